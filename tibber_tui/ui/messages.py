"""Core events as Textual messages, and the sink that posts them to the app.

Status-like messages (loader state, stream state, budget, database state) replace an older queued message
of the same subject (``can_replace``, as in toolong), so a burst collapses into the newest state. Live samples,
log lines and collector starts/stops are never coalesced: each one matters.
"""

from __future__ import annotations

from textual.message import Message
from textual.message_pump import MessagePump

from tibber_tui.collector import events as ev


class CoreEvent(Message, bubble=False):
    """A core event for the app; ``event`` is the original dataclass."""

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event


class LiveSampleReceived(CoreEvent):
    """One live frame. Never replaced: every sample goes into the ring buffer."""


class StatusEvent(CoreEvent):
    """A state that only matters in its newest version."""

    def subject(self) -> tuple[object, ...]:
        event = self.event
        if isinstance(event, ev.LoaderStateChanged):
            return ("loader", event.token_id, event.home_id, event.loader)
        if isinstance(event, ev.StreamStateChanged):
            return ("stream", event.token_id)
        return (type(event).__name__,)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusEvent) and message.subject() == self.subject()


class LogEvent(CoreEvent):
    """Starts, stops, failures, rows written and log lines: each one kept."""


class CollectorCrashed(Message, bubble=False):
    """The collector worker failed; it is restarted after ``retry_in`` seconds."""

    def __init__(self, error: str, retry_in: float) -> None:
        super().__init__()
        self.error = error
        self.retry_in = retry_in


_STATUS_TYPES = (ev.LoaderStateChanged, ev.StreamStateChanged, ev.BudgetChanged, ev.DatabaseStateChanged)


def to_message(event: ev.Event) -> CoreEvent:
    """The Textual message for a core event."""
    if isinstance(event, ev.LiveSample):
        return LiveSampleReceived(event)
    if isinstance(event, _STATUS_TYPES):
        return StatusEvent(event)
    return LogEvent(event)


class MessageSink:
    """An ``EventSink`` that posts each core event to a message pump (the app); never blocks."""

    def __init__(self, target: MessagePump) -> None:
        self.target = target

    def emit(self, event: ev.Event) -> None:
        self.target.post_message(to_message(event))
