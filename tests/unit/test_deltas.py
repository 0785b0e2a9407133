"""The narrative as it is written: deltas from a partial JSON answer (pure code)."""

from __future__ import annotations

import json

from fortune_worker.deltas import NarrativeDeltas, narrative_of
from fortune_worker.providers import sentences

ANSWER = json.dumps(
    {
        "summary": "A steady day.",
        "scores": {"overall": 70},
        "text": 'Line one, "quoted" — 第二句：好运。\nAnd a \\ backslash, 🐉 too.',
    },
    ensure_ascii=False,
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def text(self, piece: str) -> None:
        self.calls.append(("text", piece))

    def reset(self) -> None:
        self.calls.append(("reset", ""))

    @property
    def joined(self) -> str:
        return "".join(piece for kind, piece in self.calls if kind == "text")


def test_every_cut_of_the_answer_gives_a_prefix_of_the_narrative() -> None:
    whole = json.loads(ANSWER)["text"]
    for size in (1, 2, 3, 5, 40):
        recorder = Recorder()
        deltas = NarrativeDeltas(recorder)
        for start in range(0, len(ANSWER), size):
            deltas.feed(ANSWER[start : start + size])
            assert whole.startswith(deltas.shown)
        assert recorder.joined == whole == deltas.shown
        assert all(kind == "text" and piece for kind, piece in recorder.calls)


def test_a_fenced_answer_and_a_non_json_answer() -> None:
    assert narrative_of(b'```json\n{"text": "abc') == "abc"
    assert narrative_of(b"Here is your fortune: {not json") is None
    assert narrative_of(b'{"summary": "x"') is None
    assert narrative_of(b'["text"]') is None


def test_restart_resets_only_what_was_shown() -> None:
    recorder = Recorder()
    deltas = NarrativeDeltas(recorder)
    deltas.feed('{"summary": "no narrative yet"')
    deltas.restart()
    assert recorder.calls == []  # nothing was shown: nothing to reset
    deltas.feed('{"text": "first')
    deltas.restart()
    deltas.feed('{"text": "second"}')
    assert recorder.calls == [("text", "first"), ("reset", ""), ("text", "second")]


def test_sentences_join_back_to_the_text() -> None:
    for text in ("今天宜静。明日可动！后天？", "One. Two! Three? Four", "", "无标点"):
        pieces = sentences(text)
        assert "".join(pieces) == text
        assert all(pieces)
    assert sentences("今天宜静。明日可动！") == ["今天宜静。", "明日可动！"]
    assert sentences("One. Two!") == ["One. ", "Two!"]
