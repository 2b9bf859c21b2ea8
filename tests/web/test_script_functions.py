"""The builder knows the site's script functions: its check flags unknown ones, its help lists
them."""

from __future__ import annotations

from django.test import Client

from tests.web.step_form import post_test_run

HTMX = {"HX-Request": "true"}


def test_the_script_check_flags_an_unknown_function_with_its_line(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/steps/check/", {"script": 'x = 1\ntext.shout("a")'}, headers=HTMX
    )

    assert b"Line 2, column 1: text has no function shout" in response.content


def test_a_known_function_passes_the_check(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/steps/check/", {"script": 'text.sha256("a")'}, headers=HTMX
    )

    assert b"field-error" not in response.content


def test_the_step_editor_lists_the_functions_with_their_signatures_and_docs(
    operator: Client, stripe
):
    page = operator.get(f"/flows/{stripe.name}/steps/new/", headers=HTMX).content.decode()

    assert "text.slugify(value: str, separator: str = &#x27;-&#x27;) -&gt; str" in page
    assert "HMAC-SHA256 of the message under the key" in page


def test_a_test_run_calls_a_script_function(operator: Client, stripe):
    script = 'text.slugify(input["title"])\n'

    response = post_test_run(operator, stripe.name, script, '{"title": "Hello World"}')

    assert "&quot;hello-world&quot;" in response.content.decode()
