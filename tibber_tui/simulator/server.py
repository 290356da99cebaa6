"""The Tibber-compatible server: ``POST /v1-beta/gql``, the live websocket and ``POST /_control``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from tibber_tui.simulator.data import SimData
from tibber_tui.simulator.executor import DocumentCache, RequestContext, run_query
from tibber_tui.simulator.faults import Faults
from tibber_tui.simulator.limits import TOO_MANY_REQUESTS_BODY, RateLimiter
from tibber_tui.simulator.model import SimConfig, SimHome, generate_homes
from tibber_tui.simulator.sockets import LiveSocket, bearer_token, websocket_handler
from tibber_tui.simulator.stats import SimStats

GQL_PATH = "/v1-beta/gql"
WS_PATH = "/v1-beta/gql/subscriptions"
CONTROL_PATH = "/_control"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json")


def _errors(status: int, message: str, code: str | None = None, errors: list[Any] | None = None) -> web.Response:
    if errors is None:
        error: dict[str, Any] = {"message": message}
        if code:
            error["extensions"] = {"code": code}
        errors = [error]
    return _json({"errors": errors, "data": None}, status)


class Simulator:
    """A Tibber API on a loopback port with deterministic data, Tibber's limits and switchable faults."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.tokens: dict[str, list[SimHome]] = {}
        self.data = SimData(self.config.seed, self.config.clock, self.config.history_days, self.config.tomorrow_publish)
        self.stats = SimStats()
        self.limiter = RateLimiter(
            self.config.rate_limit, self.config.rate_window, self.config.ban_seconds, self.config.monotonic
        )
        self.faults = Faults(self.stats, self.limiter, self.config.monotonic)
        self.documents = DocumentCache()
        self.background: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._base = ""
        self._start_wall = self.config.clock().timestamp()
        self._start_mono = self.config.monotonic()

    # --- tokens -----------------------------------------------------------------------------------------

    def add_token(self, token: str, homes: Sequence[SimHome] | int = 1, *, producing: int = 0) -> list[SimHome]:
        """Accept ``token`` with the given homes, or that many generated ones (the first ``producing`` with solar)."""
        if isinstance(homes, int):
            start = sum(len(h) for h in self.tokens.values())
            home_list = generate_homes(self.config.seed, token, homes, producing=producing, start=start)
        else:
            home_list = list(homes)
        self.tokens[token] = home_list
        for home in home_list:
            self.data.register(home)
        return home_list

    def remove_token(self, token: str) -> None:
        """Stop accepting ``token``; its open sockets are closed with 4403 like a revoked token."""
        self.tokens.pop(token, None)
        for sock in [s for s in self.stats.sockets if s.token == token]:
            task = asyncio.get_running_loop().create_task(sock.close(4403, "Invalid token"))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    # --- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """What to put in ``TIBBER_API_URL``."""
        if not self._base:
            raise RuntimeError("the simulator is not started")
        return f"http://{self._base}{GQL_PATH}"

    @property
    def ws_url(self) -> str:
        """The websocket URL the simulator reports as ``viewer.websocketSubscriptionUrl``."""
        if not self._base:
            raise RuntimeError("the simulator is not started")
        return f"ws://{self._base}{WS_PATH}"

    @property
    def port(self) -> int:
        return int(self._base.rsplit(":", 1)[1]) if self._base else 0

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=4 << 20)
        app.router.add_post(GQL_PATH, self._graphql)
        app.router.add_get(WS_PATH, self._websocket)
        app.router.add_post(CONTROL_PATH, self._control)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 = a free port; see ``url``)."""
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1] if self._runner.addresses else port
        self._base = f"{host}:{bound_port}"

    async def stop(self) -> None:
        """Close every socket (1001) and stop listening."""
        for sock in list(self.stats.sockets):
            await sock.close(1001, "Going away")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self.background):
            task.cancel()

    def live_now(self) -> float:
        """Epoch seconds for a live frame: the clock, but never standing still when a test fixes the clock."""
        elapsed = self.config.monotonic() - self._start_mono
        return max(self.config.clock().timestamp(), self._start_wall + elapsed)

    def open_sockets(self) -> list[LiveSocket]:
        return list(self.stats.sockets)

    # --- HTTP -------------------------------------------------------------------------------------------------

    async def _graphql(self, request: web.Request) -> web.Response:
        user_agent = request.headers.get("User-Agent", "")
        token = bearer_token(request)
        self.stats.user_agents.append(user_agent)
        self.stats.requests[token] += 1
        if not self.limiter.allow(request.remote or ""):
            self.stats.rate_limited += 1
            return web.Response(status=429, text=TOO_MANY_REQUESTS_BODY)
        if not user_agent:
            return _json({"responseMessage": "User agent is required"}, status=400)
        if self.faults.slow_seconds:
            await asyncio.sleep(self.faults.slow_seconds)
        fault = self.faults.take_http_fault()
        if fault is not None:
            return web.Response(status=fault.status, text=fault.body, content_type=fault.content_type)
        try:
            body = await request.json()
        except ValueError:
            return _errors(400, "POST body missing, invalid Content-Type, or JSON object has no keys.", "BAD_REQUEST")
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or not query.strip():
            return _errors(400, "GraphQL operations must contain a non-empty `query`.", "BAD_REQUEST")
        if token:
            self.stats.queries[token].append(query)
        homes = self.tokens.get(token)
        if homes is None:
            message = (
                "Context creation failed: no token provided" if not token else "Context creation failed: invalid token"
            )
            return _errors(200, message, "UNAUTHENTICATED")
        document, errors = self.documents.get(query)
        if document is None:
            return _errors(
                400, "", errors=[{**e.formatted, "extensions": {"code": "GRAPHQL_PARSE_FAILED"}} for e in errors]
            )
        if errors:
            return _errors(
                400, "", errors=[{**e.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}} for e in errors]
            )
        variables = body.get("variables")
        ctx = RequestContext(
            data=self.data, faults=self.faults, homes=homes, ws_url=self.ws_url, now=self.config.clock().timestamp()
        )
        result = run_query(document, ctx, variables if isinstance(variables, dict) else None, body.get("operationName"))
        if result.data is None and result.errors and not any(e.path for e in result.errors):
            return _errors(
                400, "", errors=[{**e.formatted, "extensions": {"code": "BAD_USER_INPUT"}} for e in result.errors]
            )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        return _json(answer)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        return await websocket_handler(self, request)

    async def _control(self, request: web.Request) -> web.Response:
        try:
            command = await request.json()
            result = self.faults.apply(command)
        except (ValueError, TypeError) as exc:
            return _json({"ok": False, "error": str(exc)}, status=400)
        return _json({"ok": True, "result": result})
