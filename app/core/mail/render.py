"""Mail templates: one place (`templates/`), Jinja2, a plain-text and an HTML part for each.

The HTML part is autoescaped, so a display name or a listing title cannot inject markup;
an undefined variable is an error, not an empty string, so a template and its caller cannot
drift apart silently. A template's subject is its `subject` block.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _subject(template: Template, context: dict[str, Any]) -> str:
    block = template.blocks["subject"]
    # One line: a newline in a subject would start a header of its own.
    return " ".join("".join(block(template.new_context(context))).split())


def render(name: str, context: dict[str, Any]) -> RenderedMail:
    """The mail `name` (`templates/<name>.txt` and `.html`) filled with `context`."""
    environment = _environment()
    text = environment.get_template(f"{name}.txt")
    html = environment.get_template(f"{name}.html")
    return RenderedMail(_subject(text, context), text.render(context), html.render(context))
