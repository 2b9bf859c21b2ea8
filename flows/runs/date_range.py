"""The Runs page's date range: `from` and `to` in its query string, read strictly.

Either bound is a date (`2026-12-01`) or a date and time to the minute or second
(`2026-12-01T14:00`, what a datetime-local field sends), in the site's time zone. `from` is
inclusive, `to` exclusive, except that a `to` given as a date alone includes that whole day,
as a reader of "from 1 to 2 December" expects. The dashboard's charts link to hours and
6-hour spans with times, so one bar's `to` is the next bar's `from` and no run counts twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.http import QueryDict
from django.utils import timezone
from django.utils.timezone import localtime

EXAMPLE = "2026-12-01 or 2026-12-01T14:00"


@dataclass(frozen=True)
class DateRange:
    """The valid bounds' texts as given (for links that keep them), and what was wrong."""

    date_from: str = ""
    date_to: str = ""
    errors: tuple[str, ...] = ()


def date_range_from_query(query: QueryDict) -> DateRange:
    """Read `from` and `to`; a bound that is not a moment, or a range that ends before it
    starts, is left out and explained in `errors`."""
    texts = {"from": query.get("from", "").strip(), "to": query.get("to", "").strip()}
    kept, errors = {}, []
    for field, text in texts.items():
        if not text:
            continue
        try:
            bound(text, end_of_day=field == "to")
        except ValueError:
            errors.append(f"“{field.capitalize()}” is not a date: write it like {EXAMPLE}.")
        else:
            kept[field] = text
    if len(kept) == 2 and bound(kept["from"]) >= bound(kept["to"], end_of_day=True):
        errors.append("“From” must be before “To”: the range is left out.")
        kept = {}
    return DateRange(kept.get("from", ""), kept.get("to", ""), tuple(errors))


def bound(text: str, end_of_day: bool = False) -> datetime:
    """The moment a bound names, aware, in the current time zone; ValueError if none."""
    try:
        if "T" not in text and " " not in text:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time())
        else:
            moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            raise ValueError("a time zone is not taken: times are the site's")
        return timezone.make_aware(moment)
    except OverflowError:  # the day after 9999-12-31, say
        raise ValueError("out of range") from None


def field_value(moment: datetime | None) -> str:
    """A bound as a datetime-local field shows it (a date-only `to` becomes the midnight that
    ends its day, the same bound once the form is sent again)."""
    if moment is None:
        return ""
    local = localtime(moment).replace(tzinfo=None)
    return local.isoformat(timespec="seconds" if local.second else "minutes")
