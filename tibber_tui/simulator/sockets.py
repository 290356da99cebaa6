"""The live websocket: Tibber's ``graphql-transport-ws`` server side, one frame timer per socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLID,
    GraphQLNonNull,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    value_from_ast,
)
from graphql.utilities import get_operation_ast

from tibber_tui.simulator.limits import TOO_MANY_REQUESTS_BODY
from tibber_tui.simulator.model import SimHome

if TYPE_CHECKING:
    from tibber_tui.simulator.server import Simulator

PROTOCOL = "graphql-transport-ws"
LEGACY_PROTOCOL = "graphql-ws"


class SubscribeError(Exception):
    """A subscribe message that gets an ``error`` answer (the socket stays open)."""


@dataclass(frozen=True, slots=True)
class LiveSubscription:
    """One ``liveMeasurement`` subscription: its home and how to shape the frame (aliases, fragments)."""

    id: str
    home: SimHome
    root_key: str
    fields: tuple[tuple[str, str], ...]  # (response key, API field name)


def _included(node: Any, variables: dict[str, Any]) -> bool:
    """Honour @skip / @include."""
    for directive in node.directives or ():
        if directive.name.value not in ("skip", "include"):
            continue
        value = True
        for arg in directive.arguments:
            if arg.name.value == "if":
                value = bool(value_from_ast(arg.value, GraphQLNonNull(GraphQLBoolean), variables))
        if (directive.name.value == "skip") == value:
            return False
    return True


def _fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
) -> list[FieldNode]:
    """The fields of a selection set with fragments flattened (all our live types are concrete)."""
    out: list[FieldNode] = []
    for sel in selection_set.selections:
        if not _included(sel, variables):
            continue
        if isinstance(sel, FieldNode):
            out.append(sel)
        elif isinstance(sel, InlineFragmentNode):
            out.extend(_fields(sel.selection_set, fragments, variables))
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            out.extend(_fields(fragments[sel.name.value].selection_set, fragments, variables))
    return out


def plan_subscription(
    sub_id: str, document: DocumentNode, variables: dict[str, Any], operation_name: str | None, homes: list[SimHome]
) -> LiveSubscription:
    """Turn a validated subscription document into a frame plan, or raise ``SubscribeError``."""
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode) or operation.operation != OperationType.SUBSCRIPTION:
        raise SubscribeError("Only subscription operations are supported on this socket")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    roots = _fields(operation.selection_set, fragments, variables)
    if len(roots) != 1 or roots[0].name.value != "liveMeasurement":
        raise SubscribeError("Subscribe to exactly one liveMeasurement field")
    root = roots[0]
    home_id: Any = Undefined
    for arg in root.arguments or ():
        if arg.name.value == "homeId":
            home_id = value_from_ast(arg.value, GraphQLNonNull(GraphQLID), variables)
    if home_id is Undefined or home_id is None:
        raise SubscribeError('Variable "$homeId" of required type "ID!" was not provided.')
    home = next((h for h in homes if h.id == str(home_id)), None)
    if home is None:
        raise SubscribeError(f"Could not find home with id {home_id}")
    if not home.realtime:
        raise SubscribeError(f"unable to start stream for home {home_id}: no real-time device paired")
    fields: dict[str, str] = {}
    if root.selection_set is not None:
        for f in _fields(root.selection_set, fragments, variables):
            fields.setdefault(f.alias.value if f.alias else f.name.value, f.name.value)
    root_key = root.alias.value if root.alias else "liveMeasurement"
    return LiveSubscription(sub_id, home, root_key, tuple(fields.items()))


def bearer_token(request: web.Request) -> str:
    """The token of an ``Authorization: Bearer`` header, ``""`` if none."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class LiveSocket:
    """One open websocket: protocol state, its subscriptions and its frame timer."""

    def __init__(self, sim: Simulator, request: web.Request, ws: web.WebSocketResponse, header_token: str) -> None:
        self.sim = sim
        self.request = request
        self.ws = ws
        self.header_token = header_token
        self.token: str | None = None
        self.subs: dict[str, LiveSubscription] = {}
        self.failed: set[str] = set()
        """Subscriptions that got a ``next_error``: still open (until the client completes them) but silent."""
        self.server_close_code: int | None = None
        self._dropped = False
        self._last_ts = 0.0
        self._timer: asyncio.Task[None] | None = None

    def subscribed_homes(self) -> list[SimHome]:
        return [s.home for s in self.subs.values()]

    def drop(self) -> None:
        """Cut the connection without a close frame (what a network failure looks like)."""
        self._dropped = True
        self.subs.clear()
        self.failed.clear()
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def server_complete(self, home_id: str) -> int:
        """End the subscriptions of ``home_id`` from the server side."""
        ended = [s for s in self.subs.values() if s.home.id == home_id]
        for sub in ended:
            del self.subs[sub.id]
            self.failed.discard(sub.id)
            self._log("server_complete", sub)
            self._send_soon({"id": sub.id, "type": "complete"})
        return len(ended)

    def server_next_error(self, home_id: str, message: str) -> int:
        """Report a failed stream for the subscriptions of ``home_id`` inside a ``next``; they stay open, silent."""
        hit = [s for s in self.subs.values() if s.home.id == home_id]
        for sub in hit:
            self.failed.add(sub.id)
            self._log("next_error", sub)
            self._send_soon({"id": sub.id, "type": "next", "payload": {"errors": [{"message": message}]}})
        return len(hit)

    def _log(self, what: str, sub: LiveSubscription) -> None:
        if self.token is not None:
            self.sim.stats.subscription_log[self.token].append((what, sub.id, sub.home.id))

    def _send_soon(self, message: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._send(message))
        self.sim.background.add(task)
        task.add_done_callback(self.sim.background.discard)

    async def _send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps(message, separators=(",", ":")))

    async def close(self, code: int, reason: str) -> None:
        self.server_close_code = code
        await self.ws.close(code=code, message=reason.encode())

    # --- the protocol ---------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Run the socket until either side closes it."""
        try:
            if not await self._initialise():
                return
            self.sim.stats.sockets.add(self)
            await self._send({"type": "connection_ack"})
            self._timer = asyncio.get_running_loop().create_task(self._frames())
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    break
                if not await self._handle(msg.data):
                    break
        finally:
            if self._timer is not None:
                self._timer.cancel()
            self.sim.stats.sockets.discard(self)
            self.subs.clear()
            self.failed.clear()
            if self.token is not None:
                self.sim.stats.closed[self.token].append(self._final_code())

    def _final_code(self) -> int:
        if self._dropped:
            return 1006
        if self.server_close_code is not None:
            return self.server_close_code
        return self.ws.close_code if self.ws.close_code is not None else 1006

    async def _initialise(self) -> bool:
        try:
            msg = await self.ws.receive(timeout=self.sim.config.init_timeout)
        except TimeoutError:
            await self.close(4408, "Connection initialisation timeout")
            return False
        if msg.type != WSMsgType.TEXT:
            return False
        try:
            message = json.loads(msg.data)
        except ValueError:
            await self.close(4400, "Invalid message received")
            return False
        if not isinstance(message, dict) or message.get("type") != "connection_init":
            await self.close(4401, "Unauthorized")
            return False
        payload = message.get("payload")
        token = payload.get("token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            await self.close(4500, "Internal server error: connection_init payload has no token")
            return False
        self.token = token
        if not self.header_token:
            self.sim.stats.ws_connects[token] += 1
        if token not in self.sim.tokens:
            await self.close(4403, "Invalid token")
            return False
        limit = self.sim.config.max_sockets_per_token
        if self.sim.stats.open_sockets(token) >= limit:
            await self.close(4429, f"Too many open connections on this server; count {limit}")
            return False
        return True

    async def _handle(self, text: str) -> bool:
        """Handle one client message; False ends the socket."""
        try:
            message = json.loads(text)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            await self.close(4400, "Invalid message received")
            return False
        if kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            sub_id = str(message.get("id"))
            ended = self.subs.pop(sub_id, None)
            self.failed.discard(sub_id)
            if ended is not None:
                self._log("complete", ended)
        elif kind == "connection_init":
            await self.close(4429, "Too many initialisation requests")
            return False
        elif kind != "pong":
            await self.close(4400, f"Invalid message type {kind!r}")
            return False
        return not self.ws.closed

    async def _subscribe(self, message: dict[str, Any]) -> None:
        sub_id = str(message.get("id", ""))
        if sub_id in self.subs:
            await self.close(4409, f"Subscriber for {sub_id} already exists")
            return
        payload = message.get("payload") or {}
        query = payload.get("query") if isinstance(payload, dict) else None
        assert self.token is not None
        if not isinstance(query, str):
            await self._send({"id": sub_id, "type": "error", "payload": [{"message": "Must provide query string."}]})
            return
        self.sim.stats.queries[self.token].append(query)
        document, errors = self.sim.documents.get(query)
        if document is None or errors:
            await self._send({"id": sub_id, "type": "error", "payload": [e.formatted for e in errors]})
            return
        variables = payload.get("variables") or {}
        try:
            sub = plan_subscription(
                sub_id, document, variables, payload.get("operationName"), self.sim.tokens.get(self.token, [])
            )
        except SubscribeError as exc:
            await self._send({"id": sub_id, "type": "error", "payload": [{"message": str(exc)}]})
            return
        self.subs[sub_id] = sub
        self._log("subscribe", sub)

    async def _frames(self) -> None:
        """Every ``frame_interval``: one ``next`` per subscription (skipped while stalled or failed)."""
        loop = asyncio.get_running_loop()
        model = self.sim.data.live_model
        due = loop.time()
        while not self.ws.closed:
            due += self.sim.config.frame_interval
            delay = due - loop.time()
            if delay < 0:  # running late: do not burst to catch up
                due, delay = loop.time(), 0.0
            await asyncio.sleep(delay)
            if not self.subs or self.token is None or self.sim.faults.is_stalled(self.token):
                continue
            ts = max(self.sim.live_now(), self._last_ts + 0.001)
            self._last_ts = ts
            for sub in list(self.subs.values()):
                if sub.id in self.failed or self.sim.faults.is_stalled(self.token, sub.home.id):
                    continue
                frame = model.values(sub.home, ts)
                data = {key: frame.get(name, "LiveMeasurement" if name == "__typename" else None)
                        for key, name in sub.fields}  # fmt: skip
                message = {"id": sub.id, "type": "next", "payload": {"data": {sub.root_key: data}}}
                try:
                    await self.ws.send_str(json.dumps(message, separators=(",", ":")))
                except (ConnectionError, RuntimeError):
                    return


async def websocket_handler(sim: Simulator, request: web.Request) -> web.StreamResponse:
    """``GET /v1-beta/gql/subscriptions``: counts the upgrade, applies the IP limit, then speaks the protocol."""
    user_agent = request.headers.get("User-Agent", "")
    sim.stats.user_agents.append(user_agent)
    header_token = bearer_token(request)
    if header_token:
        sim.stats.ws_connects[header_token] += 1
    if not sim.limiter.allow(request.remote or ""):
        sim.stats.rate_limited += 1
        return web.Response(status=429, text=TOO_MANY_REQUESTS_BODY)
    if not user_agent:
        return web.json_response({"responseMessage": "User agent is required"}, status=400)
    ws = web.WebSocketResponse(protocols=(PROTOCOL, LEGACY_PROTOCOL), autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    if ws.ws_protocol != PROTOCOL:
        if ws.ws_protocol == LEGACY_PROTOCOL:
            message = {"type": "connection_error", "payload": {"message": "Prohibited connection!"}}
            await ws.send_str(json.dumps(message))
            await ws.close(code=1011, message=b"Prohibited connection!")
        else:
            await ws.close(code=4406, message=b"Subprotocol not acceptable")
        return ws
    await LiveSocket(sim, request, ws, header_token).serve()
    return ws
