"""Builder forms. The model fields carry the engine's validators (validators.py), so a step
that saves is one the engine accepts; these forms add labels, widgets and JSON fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from flows.definitions import editing, strict_json
from flows.definitions.portable import parse_import
from flows.engine.executor import encode_input
from flows.models import FlowDefinition, StepDefinition
from flows.validators import sentence


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """Parse text that must hold a JSON object; ValidationError says where it goes wrong."""
    try:
        value = strict_json.loads(text or "{}")
    except strict_json.JsonRejected as error:
        raise forms.ValidationError(f"{what} is {error}") from None
    try:
        encode_input(value)
    except ValueError:
        kind = "null" if value is None else type(value).__name__
        raise forms.ValidationError(
            f'{what} must be a JSON object, like {{"key": "value"}}, not {kind}'
        ) from None
    return value


class FlowForm(forms.ModelForm):
    class Meta:
        model = FlowDefinition
        fields = [
            "name",
            "description",
            "allowed_hosts",
            "concurrency_limit",
            "key_concurrency_limit",
            "concurrency_key",
            "when_limited",
        ]
        labels = {
            "name": "Name",
            "description": "Description",
            "allowed_hosts": "Allowed hosts",
            "concurrency_limit": "At most this many runs at once",
            "key_concurrency_limit": "At most this many at once per key",
            "concurrency_key": "Key",
            "when_limited": "When a limit is reached",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "concurrency_key": forms.TextInput(
                attrs={"spellcheck": "false", "placeholder": 'input["customer_id"]'}
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The page always sends it; a post without it (a script's) leaves it as it was.
        self.fields["when_limited"].required = False

    def clean_when_limited(self) -> str:
        return self.cleaned_data.get("when_limited") or self.instance.when_limited


# The "runs after" choice of no dependency; never a step's name, as those are slugs.
START_OF_RUN = "@start"


class StepForm(forms.ModelForm):
    after = forms.MultipleChoiceField(
        label="Runs after",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="It starts once all of these have ended. Left as it is (or with nothing "
        "ticked) it runs after the step above it, whichever that is after a reorder.",
    )

    class Meta:
        model = StepDefinition
        fields = ["name", "script", "after", "when", "timeout", "retries"]
        labels = {
            "name": "Step name",
            "script": "Script",
            "when": "Run only if",
            "timeout": "Timeout (seconds)",
            "retries": "Retries",
        }
        widgets = {
            "script": forms.Textarea(
                attrs={"rows": 8, "spellcheck": "false", "data-code-editor": "python"}
            ),
            "when": forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
            "timeout": forms.NumberInput(attrs={"step": "any", "min": "0"}),
        }

    def __init__(self, *args: Any, flow: FlowDefinition, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.flow = flow
        # Keep the script exactly as typed: indentation matters in Starlark.
        self.fields["script"].strip = False
        if not self.is_bound and float(self.instance.timeout).is_integer():
            self.initial["timeout"] = int(self.instance.timeout)  # "5", not "5.0"
        self._flow_steps = list(flow.steps.all())
        self._set_after_choices()

    def _set_after_choices(self) -> None:
        """Only the steps above this one: the list stays in an order the steps can run in, and
        no choice can make a circle."""
        pks = [step.pk for step in self._flow_steps]
        above = pks.index(self.instance.pk) if self.instance.pk in pks else len(pks)
        earlier = [step.name for step in self._flow_steps[:above]]
        self.fields["after"].choices = [
            (START_OF_RUN, "the start of the run"),
            *((name, name) for name in earlier),
        ]
        # What "the step before it" (after = None) means here and now.
        self._default_after = [earlier[-1]] if earlier else [START_OF_RUN]
        after = self.instance.after
        if not self.is_bound:
            self.initial["after"] = (
                self._default_after if after is None else after or [START_OF_RUN]
            )

    def clean_name(self) -> str:
        # The (flow, name) constraint is not checked by the form because flow is not a field.
        name = self.cleaned_data["name"]
        if self.instance.flow.steps.exclude(pk=self.instance.pk).filter(name=name).exists():
            raise forms.ValidationError(f"This flow already has a step named {name!r}.")
        return name

    def clean_after(self) -> list[str] | None:
        """None (the step before it) while the default is left as it is or nothing is ticked,
        else the names ([] for the start of the run)."""
        chosen = self.cleaned_data["after"]
        if START_OF_RUN in chosen and len(chosen) > 1:
            raise forms.ValidationError(
                "Choose the start of the run or steps to run after, not both."
            )
        if not chosen or (self.instance.after is None and chosen == self._default_after):
            return None
        choices = self.fields["after"].choices
        return [name for name, _label in choices if name in chosen and name != START_OF_RUN]

    def _post_clean(self) -> None:
        """Check the whole flow as it would be with this step saved, as the engine will run it."""
        super()._post_clean()
        if self._errors:
            return
        old_name = self.initial.get("name")
        steps = editing.with_step(self._flow_steps, self.instance, old_name)
        try:
            self.instance.flow.to_flow(steps)
        except ValueError as error:
            self.add_error("after", sentence(error))

    def save_step(self) -> list[StepDefinition]:
        """Save the step (self.instance), renaming it in the other steps' "runs after" if its
        name changed; returns those other steps."""
        return editing.save_step(self.save(commit=False), self.initial.get("name"))


class JsonObjectField(forms.CharField):
    """A textarea holding a JSON object; cleans to the dict, or says where the JSON is wrong."""

    def __init__(self, *, label: str, what: str, rows: int = 3) -> None:
        widget = forms.Textarea(attrs={"rows": rows, "spellcheck": "false"})
        super().__init__(label=label, required=False, initial="{}", widget=widget)
        self.what = what  # how error messages name the field

    def clean(self, value: str) -> dict[str, Any]:
        return parse_json_object(super().clean(value), self.what)


class StepTestForm(forms.Form):
    """Sample data for a test run of the step being edited."""

    sample_input = JsonObjectField(label="Sample input (JSON)", what="Sample input")
    sample_steps = JsonObjectField(
        label="Outputs of earlier steps (JSON, keyed by step)", what="Outputs of earlier steps"
    )


class LaunchForm(forms.Form):
    input = JsonObjectField(label="Input (JSON)", what="Input", rows=6)


class ImportForm(forms.Form):
    definition = forms.CharField(
        label="Flow JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="Paste a flow exported from Flowsite (Export as JSON)…",
    )
    file = forms.FileField(label="…or choose the exported file", required=False)

    def clean(self) -> dict[str, Any]:
        """Read the pasted text, else the file, into (engine Flow, description) as `flow`."""
        cleaned = super().clean()
        field, text = "definition", cleaned.get("definition", "")
        if not text and cleaned.get("file"):
            field = "file"
            if problem := _too_large(cleaned["file"]):
                self.add_error(field, problem)
                return cleaned
            try:
                text = cleaned["file"].read().decode()
            except UnicodeDecodeError:
                self.add_error(field, "The file is not UTF-8 text: choose the exported .json file.")
                return cleaned
        if not text:
            self.add_error("definition", "Paste the flow's JSON or choose the exported file.")
            return cleaned
        try:
            cleaned["flow"] = parse_import(text)
        except ValueError as error:
            self.add_error(field, sentence(error))
        return cleaned


def _too_large(upload: UploadedFile) -> str | None:
    """Django's cap on a request's size leaves uploaded files out: an import file gets the same."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if upload.size is not None and upload.size > limit:
        return (
            f"The file is {filesizeformat(upload.size)}, over the {filesizeformat(limit)} "
            "an import may be: choose the exported .json file."
        )
    return None


class TokenForm(forms.Form):
    name = forms.CharField(label="Token name", max_length=100, help_text="e.g. ci-pipeline")


class FixStepForm(forms.ModelForm):
    """A failed step's script, timeout and retries, edited to resume its run. A form of the
    builder's step model (never saved itself), so a fix passes every check a saved step does,
    the database's bounds included: "also save" cannot fail once the run has resumed."""

    save_to_definition = forms.BooleanField(
        label="Also save this fix to the flow definition (a new version)", required=False
    )

    class Meta:
        model = StepDefinition
        fields = ["script", "timeout", "retries"]
        labels = StepForm.Meta.labels
        widgets = {
            "script": forms.Textarea(
                attrs={"rows": 10, "spellcheck": "false", "data-code-editor": "python"}
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["script"].strip = False  # indentation matters in Starlark
