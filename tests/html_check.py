"""A strict structural check of the HTML we send: balanced tags, proper nesting, unique ids, a lang and a title."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.problems: list[str] = []
        self.seen: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.problems.append(f"<{tag}> repeats an attribute: {names}")
        for name, value in attrs:
            if name == "id":
                if value in self.ids:
                    self.problems.append(f"duplicate id {value!r}")
                self.ids.add(value or "")
        if tag in {"tr"} and self.stack and self.stack[-1] not in {"tbody", "thead", "tfoot", "table"}:
            self.problems.append(f"<tr> inside <{self.stack[-1]}>")
        if tag in {"td", "th"} and self.stack and self.stack[-1] != "tr":
            self.problems.append(f"<{tag}> inside <{self.stack[-1]}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.problems.append(f"self-closing <{tag}/>")
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.problems.append(f"end tag for void <{tag}>")
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def html_problems(text: str, *, fragment: bool = False) -> list[str]:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    problems = list(checker.problems)
    if checker.stack:
        problems.append(f"unclosed: {checker.stack}")
    if not fragment:
        if not text.lower().startswith("<!doctype html>"):
            problems.append("no doctype")
        if '<html lang="' not in text:
            problems.append("no lang on <html>")
        if "title" not in checker.seen or "main" not in checker.seen:
            problems.append("no <title> or <main>")
    elif "html" in checker.seen or "body" in checker.seen:
        problems.append("a fragment holds <html> or <body>")
    return problems
