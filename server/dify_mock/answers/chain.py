"""The answer chain: per model type, the links that may answer a reverse call, tried in order.

    fixtures -> replay -> a live backend -> builtin

A link that has nothing for the call passes it on; the first that answers gives a stream of SDK-shaped
chunks, which latency and faults then shape. `call.answered_by` names the link for the journal:
`rule:<name>`, `replay:<cassette>#<entry>`, `backend:<name>`, `builtin` (or `strict`, `replay` when those
links refused the call).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dify_mock.answers.builtin import audio
from dify_mock.answers.builtin.models import builtin_reply
from dify_mock.answers.cassettes import Cassettes, Recording
from dify_mock.answers.faults import FaultHooks, shape
from dify_mock.answers.render import Chunk, holds_no_credentials, render
from dify_mock.answers.replies import Reply
from dify_mock.config.faults import MODEL_INVOKE_TYPES, Fault, Latency
from dify_mock.config.file import BUILTIN, FIXTURES, REPLAY, AnswerConfig
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.store.redaction import remember_secret

if TYPE_CHECKING:
    from dify_mock.answers.openai import OpenAIBackend
    from dify_mock.answers.rules import RuleBook
    from dify_mock.config.settings import Settings
    from dify_mock.plugins.registry import Registry

ABANDON_POLL_SECONDS = 0.2


@dataclass
class Answer:
    chunks: AsyncIterator[Chunk]
    answered_by: str
    latency: Latency | None
    fault: Fault | None


class AnswerChain:
    def __init__(
        self, config: AnswerConfig, cassettes: Cassettes, invoke_timeout: float = 600.0, strict: bool = False
    ) -> None:
        self.config = config
        self.strict = strict  # --strict: no built-in answers
        self.cassettes = cassettes
        self.invoke_timeout = invoke_timeout
        self.backends: dict[str, OpenAIBackend] = {}
        if config.backends:
            from dify_mock.answers.openai import OpenAIBackend  # httpx weighs on the time to ready

            self.backends = {name: OpenAIBackend(name, backend) for name, backend in config.backends.items()}
        self.cassettes.secrets = tuple(secret for b in self.backends.values() if (secret := b.secret()))
        for secret in self.cassettes.secrets:
            remember_secret(secret)

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerChain:
        config = settings.answers
        options = config.cassettes
        cassettes = Cassettes(
            record_dir=settings.record_dir,
            replay_dir=settings.replay_dir,
            name=settings.cassette or options.name,
            per_test=options.per == "test",
            timing=settings.replay_timing or options.timing,
            ignore=(*options.ignore, *settings.replay_ignore),
            strict=options.strict,
            mode=settings.record_mode,
        )
        return cls(config, cassettes, settings.invoke_timeout, settings.strict)

    def describe(self) -> list[str]:
        """Lines for the start-up banner: backends, chains that differ from the default, cassettes."""
        lines = [f"Backend {backend.describe()}" for backend in self.backends.values()]
        offline = self.cassettes.replaying and self.cassettes.strict and not self.cassettes.recording
        if not offline:  # a strict replay never reaches a backend: a missing key is expected in CI
            lines += [f"warning: {problem}" for b in self.backends.values() if (problem := b.key_problem())]
        for invoke_type, links in self.config.chain.items():
            lines.append(f"Answer chain for {invoke_type}: {' -> '.join(links)}")
        cassettes = self.cassettes
        where = "one cassette per test" if cassettes.per_test else f"cassette {cassettes.name}.yaml"
        if cassettes.replay_dir is not None:
            lines.append(f"Replaying live answers from {cassettes.replay_dir} ({where}, timing {cassettes.timing})")
        if cassettes.record_dir is not None:
            lines.append(f"Recording live answers into {cassettes.record_dir} ({where}, record mode {cassettes.mode})")
        return lines

    def live_links(self) -> list[str]:
        """The links beyond fixtures and the built-in answer that some model type's chain reaches: its backends,
        and `replay` when cassettes are replayed."""
        links: list[str] = []
        for invoke_type in MODEL_INVOKE_TYPES:
            for link in self.config.chain_for(invoke_type):
                usable = link in self.backends or (link == REPLAY and self.cassettes.replaying)
                if usable and link not in links:
                    links.append(link)
        return links

    async def aclose(self) -> None:
        for backend in self.backends.values():
            await backend.aclose()

    def answer(self, call: ReverseCall, rules: RuleBook, registry: Registry) -> AsyncIterator[Chunk]:
        """The chunks answering one model call, from the first link of its chain that has an answer."""
        answer = self._choose(rules, call, time.perf_counter())
        call.answered_by = answer.answered_by
        if answer.fault is None and (answer.latency is None or not answer.latency.paces()):
            return answer.chunks  # nothing to shape: one async generator less per chunk
        return shape(answer.chunks, answer.latency, answer.fault, self._hooks(registry, call))

    def _choose(self, rules: RuleBook, call: ReverseCall, started: float) -> Answer:
        invoke_type = call.invoke_type
        links = self.config.chain_for(invoke_type)
        latency, fault = self.config.latency_for(invoke_type), self.config.fault_for(invoke_type)
        for position, link in enumerate(links):
            if link == FIXTURES:
                match = rules.answer(invoke_type, call.request, call.session_id)
                if match is not None:
                    rule = match.rule
                    call.rule = rule.origin
                    if match.scenario_change is not None:
                        call.scenario_changes.append(match.scenario_change)
                    chunks: AsyncIterator[Chunk] = _Rendered(call, match.reply, started)
                    call.answer_holds_no_credentials = holds_no_credentials(invoke_type)
                    return Answer(chunks, match.answered_by, rule.latency or latency, rule.fault or fault)
            elif link == REPLAY:
                if not self.cassettes.replaying:
                    continue
                live = [
                    name for name in links[position + 1 :] if name in self.backends and self.backends[name].serves(call)
                ]
                must_match = bool(live) and self.cassettes.strict and not self.cassettes.records_current()
                call.answered_by = REPLAY
                found = self.cassettes.find(call, must_match)
                if found is not None:
                    cassette, number, entry = found
                    paced = None if self.cassettes.timing == "recorded" else latency
                    return Answer(self.cassettes.replay(entry), f"replay:{cassette.name}#{number}", paced, fault)
            elif link == BUILTIN:
                if self.strict:
                    call.answered_by = "strict"
                    raise ReverseError(
                        f"no fixture rule answers this call (--strict). {rules.near_miss(invoke_type, call.request, call.session_id)}"
                    )
                try:
                    reply = builtin_reply(invoke_type, call.request)
                except audio.AudioError as error:
                    raise ReverseError(str(error)) from None
                call.answer_holds_no_credentials = holds_no_credentials(invoke_type)
                return Answer(_Rendered(call, reply, started), BUILTIN, latency, fault)
            else:
                backend = self.backends[link]
                if backend.serves(call):
                    answered_by = f"backend:{link}"
                    chunks = backend.answer(call)
                    if self.cassettes.records_current():
                        chunks = _recorded(chunks, self.cassettes.record(call, answered_by))
                    return Answer(chunks, answered_by, latency, fault)
        call.answered_by = "chain"
        raise ReverseError(f"no link of the {invoke_type} answer chain ({' -> '.join(links)}) answers this call")

    def _hooks(self, registry: Registry, call: ReverseCall) -> FaultHooks:
        def drop_connection() -> None:
            session = registry.session(call.session_id)
            if session is not None:
                session.runtime.connection.close(f"fault: drop_connection during a reverse {call.invoke_type} call")

        async def abandoned() -> bool:
            if call.caller_gone is not None:
                return await call.caller_gone()
            return registry.session(call.session_id) is None

        async def until_abandoned() -> None:
            deadline = time.monotonic() + self.invoke_timeout
            while not await abandoned() and time.monotonic() < deadline:
                await asyncio.sleep(ABANDON_POLL_SECONDS)

        return FaultHooks(drop_connection, until_abandoned)


class _Rendered:
    """A rendered reply's chunks as an async iterator; a class rather than an async generator, which costs about
    three times as much per chunk."""

    __slots__ = ("chunks",)

    def __init__(self, call: ReverseCall, reply: Reply, started: float) -> None:
        self.chunks = render(call.invoke_type, call.request, reply, started)

    def __aiter__(self) -> _Rendered:
        return self

    async def __anext__(self) -> Chunk:
        try:
            return next(self.chunks)
        except StopIteration:
            raise StopAsyncIteration from None


async def _recorded(chunks: AsyncIterator[Chunk], recording: Recording) -> AsyncIterator[Chunk]:
    """The chunks, passed on one behind: the last one goes out only once the complete entry is on disk.

    A plugin may take an answer as complete at its last chunk (the SDK returns a one-chunk answer, an embedding
    say, as soon as it arrives, before the end), so any answer a plugin has in full is in the cassette.
    """
    held: Chunk | None = None
    async for chunk in chunks:
        recording.add(chunk)
        if held is not None:
            yield held
        held = chunk
    recording.commit()
    if held is not None:
        yield held
