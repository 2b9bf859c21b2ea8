"""The schedule form: the model's validators check the expression and the time zone (naming
the field), and the input is read as launch input is."""

from __future__ import annotations

from django import forms

from flows.definitions.forms import parse_json_object
from flows.models import Schedule


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["name", "expression", "timezone", "input", "enabled", "catch_up"]
        labels = {"name": "Name", "expression": "Cron expression", "timezone": "Time zone"}
        help_texts = {"name": "Optional: shown on its runs; empty, the expression and zone."}
        widgets = {"input": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})}

    def clean_input(self) -> str:
        """Kept as typed, once it reads as a JSON object a launch accepts."""
        text = self.cleaned_data["input"].strip() or "{}"
        parse_json_object(text, "Input")
        return text
