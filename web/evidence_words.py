"""A file's checks in the reader's words. The ingest pipeline stores its findings in English
(mvq.media.ingest.metadata, mvq.media.flags): what it looked in for a capture time, why it
thinks a file was re-encoded, the C2PA status. The stored evidence stays as it is (exports and
old claims carry it); the pages translate it here, tag values kept as the file has them."""

import re

from markupsafe import Markup, escape

from edge.i18n import N_, gettext

PLACES = {
    "container tags": N_("the container's tags"),
    "EXIF": "EXIF",
    "telemetry": N_("telemetry"),
    "on-screen display": N_("the on-screen display"),
}
C2PA = {"valid": N_("valid"), "invalid": N_("invalid"), "absent": N_("absent")}
# metadata.video_facts / exif_facts: "encoder tag 'Lavf60.16.100'", "software tag 'X'".
TAGGED = re.compile(r"^(encoder|software) tag (.+)$")
SIGNALS = {"no camera make/model beside an ffmpeg muxer tag":
           N_("no camera make or model beside the tag of ffmpeg, a converter")}  # fmt: skip


def places(looked_in: list[str] | None) -> str:
    return ", ".join(gettext(PLACES[p]) if p in PLACES else p for p in looked_in or [])


def signal(text: str) -> Markup | str:
    found = TAGGED.match(text)
    if found:
        tag = Markup("<code>{}</code>").format(found[2].strip("'\""))
        if found[1] == "encoder":
            return escape(gettext("the encoder tag says %(tag)s")) % {"tag": tag}
        return escape(gettext("the software tag says %(tag)s")) % {"tag": tag}
    return gettext(SIGNALS[text]) if text in SIGNALS else text


def signals(found: list[str] | None) -> Markup:
    return Markup(", ").join(signal(s) for s in found or [])


def c2pa(status: str | None) -> str | None:
    return gettext(C2PA[status]) if status in C2PA else status
