"""The zh-Hans catalogue is complete and its committed .mo matches the .po."""

import gettext
import re
from pathlib import Path

from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
ENTRY = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) "(.*)"$')


def _unescape(text: str) -> str:
    escapes = {"n": "\n", "t": "\t"}
    return re.sub(r"\\(.)", lambda match: escapes.get(match.group(1), match.group(1)), text)


def read_po(path: Path) -> list[dict[str, str]]:
    """Entries of a .po file (obsolete ones skipped) as {keyword: text, "flags": ...}."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict[str, str] = {"flags": ""}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith("#"):
                continue
            elif match := ENTRY.match(line):
                key = match.group(1)
                entry[key] = _unescape(match.group(2))
            elif line.startswith('"') and key:
                entry[key] += _unescape(line[1:-1])
        if entry.get("msgid"):
            entries.append(entry)
    return entries


def test_every_string_is_translated_and_none_is_fuzzy():
    entries = read_po(LOCALE / "django.po")
    assert len(entries) > 300
    untranslated = [e["msgid"] for e in entries if not (e.get("msgstr") or e.get("msgstr[0]"))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_compiled_catalogue_matches_the_po_file():
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in read_po(LOCALE / "django.po"):
        if "msgctxt" in entry:
            got = compiled.pgettext(entry["msgctxt"], entry["msgid"])
            expected = entry["msgstr"]
        elif "msgid_plural" in entry:
            got = compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1)
            expected = entry["msgstr[0]"]
        else:
            got = compiled.gettext(entry["msgid"])
            expected = entry["msgstr"]
        if got != expected:
            stale.append(entry["msgid"])
    assert stale == [], "run `make messages` (compilemessages) and commit the .mo"
