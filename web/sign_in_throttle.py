"""The sign-in throttle 登入失敗限制: only failed password checks count, never successful ones.

- Per username: `free_failures` (5) failures cost nothing; from then on the username is locked
  after each failure for 1, 2, 4 … seconds, at most `max_lock` (5 minutes). Failures are
  forgotten `forget_after` (15 minutes) after the last one, and at the username's next successful
  sign-in. The key is the typed name, so an unknown username is throttled like a real one and the
  answer tells nothing about which exist (the name is stored only as a SHA-256: people type their
  password into the username field).
- Per address: `address_failures` (100) failures in a `address_window` (10 minutes) window,
  whatever the usernames: a password-spraying client is stopped there, while a school behind one
  NAT address, whose honest users fail only by typos, stays far below it. Known school networks
  may be given a larger allowance (`SIGN_IN_TRUSTED_NETWORKS`). IPv6 addresses count per /64,
  which one client holds as easily as one address.

A locked username or address is refused with 429 and Retry-After BEFORE the password is checked,
so a locked account cannot be guessed, not even with the right password. The same throttle, with
one budget per username, guards the sign-in page, the API's token endpoint and the current-password
check of 變更密碼.

Why not Flask-Limiter (which the project used before): its limits are fixed windows of a fixed
size, so a growing back-off would still need its own counting, and its storage is in memory (per
worker) or Redis. The counts live in the database instead (persistence/throttle_counts.py), which
every worker and host already shares: one read before the password check and one write after a
failure, next to an argon2 verification that costs far more. Requests served at the same moment
are each checked before any of them is counted, so a parallel guesser gets at most one attempt
per worker in flight past a lock; a reservation before every check would close that, at the
price of writes on every successful sign-in."""
from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Callable

from flask import Flask, current_app, g, make_response, request

from persistence import throttle_counts
from persistence.db import Database
from persistence.throttle_counts import Count

USER_KEY, ADDRESS_KEY = throttle_counts.USER, "addr:"
USER_RULE, ADDRESS_RULE = "sign_in_failures_per_username", "sign_in_failures_per_address"
# Stale rows are removed by the first failure a process counts after this long.
PURGE_INTERVAL_SECONDS = 600

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Rules:
    free_failures: int = 5
    max_lock: timedelta = timedelta(minutes=5)
    forget_after: timedelta = timedelta(minutes=15)
    address_failures: int = 100
    address_window: timedelta = timedelta(minutes=10)
    # (network, failures allowed in a window), longest prefix first.
    networks: tuple[tuple[Network, int], ...] = ()

    def address_limit(self, address: str | None) -> int:
        ip = _ip(address)
        if ip is not None:
            for network, limit in self.networks:
                if ip.version == network.version and ip in network:
                    return limit
        return self.address_failures

    def user_locked_until(self, count: Count | None, now: datetime) -> datetime | None:
        if count is None or count.failures < self.free_failures or count.last_failure_at <= now - self.forget_after:
            return None
        # 1 s after the free failures, doubling with each further one (the exponent is capped
        # before the power: a count of millions must not make a number of millions of digits).
        step = min(count.failures - self.free_failures, 30)
        until = count.last_failure_at + min(timedelta(seconds=2 ** step), self.max_lock)
        return until if until > now else None

    def address_locked_until(self, count: Count | None, limit: int, now: datetime) -> datetime | None:
        if count is None or count.failures < limit or count.first_failure_at <= now - self.address_window:
            return None
        return count.first_failure_at + self.address_window


def parse_networks(text: str) -> tuple[tuple[Network, int], ...]:
    """"203.0.113.0/24=1000, 2001:db8::/48=1000" → ((network, 1000), …), longest prefix first."""
    networks = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        cidr, equals, limit = part.partition("=")
        try:
            network, allowance = ipaddress.ip_network(cidr.strip(), strict=False), int(limit)
        except ValueError:
            network = allowance = None
        if not equals or network is None or allowance < 1:
            raise ValueError(f"SIGN_IN_TRUSTED_NETWORKS: {part!r} is not NETWORK=FAILURES "
                             "(e.g. 203.0.113.0/24=1000)")
        networks.append((network, allowance))
    return tuple(sorted(networks, key=lambda pair: -pair[0].prefixlen))


def rules_from(config) -> Rules:
    """The rules from app.config, else PORTFOLIO_<NAME> variables, else the defaults."""
    def setting(name: str, default: int) -> int:
        raw = config.get(name)
        if raw is None:
            raw = os.environ.get(f"PORTFOLIO_{name}") or default
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
        return value

    networks = config.get("SIGN_IN_TRUSTED_NETWORKS")
    if networks is None:
        networks = os.environ.get("PORTFOLIO_SIGN_IN_TRUSTED_NETWORKS", "")
    return Rules(free_failures=setting("SIGN_IN_FREE_FAILURES", 5),
                 max_lock=timedelta(seconds=setting("SIGN_IN_MAX_LOCK_SECONDS", 300)),
                 forget_after=timedelta(minutes=setting("SIGN_IN_FORGET_MINUTES", 15)),
                 address_failures=setting("SIGN_IN_ADDRESS_FAILURES", 100),
                 address_window=timedelta(minutes=setting("SIGN_IN_ADDRESS_MINUTES", 10)),
                 networks=networks if isinstance(networks, tuple) else parse_networks(networks))


def _ip(address: str | None):
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def user_key(username: str) -> str:
    return USER_KEY + hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


def address_key(address: str | None) -> str:
    ip = _ip(address)
    if ip is None:  # not an address (a forwarded header may say anything): counted as what it says
        return ADDRESS_KEY + "?" + hashlib.sha256((address or "").encode("utf-8", "surrogatepass")).hexdigest()
    if ip.version == 6:
        return ADDRESS_KEY + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return ADDRESS_KEY + str(ip)


@dataclass(frozen=True)
class Refusal:
    rule: str
    limit: int
    wait: int  # whole seconds, at least 1


class Throttle:
    def __init__(self, db: Database, rules: Rules):
        self.db, self.rules = db, rules
        self._next_purge = 0.0

    def keys(self, username: str | None, address: str | None) -> list[str]:
        return ([user_key(username)] if username and username.strip() else []) + [address_key(address)]

    def check(self, username: str | None, address: str | None, now: datetime) -> tuple[Refusal | None, dict]:
        """Whether this attempt is refused, and the counts read (one SELECT)."""
        keys = self.keys(username, address)
        counts = throttle_counts.read(self.db, keys)
        limit = self.rules.address_limit(address)
        locks = [(self.rules.address_locked_until(counts.get(keys[-1]), limit, now), ADDRESS_RULE, limit)]
        if len(keys) == 2:
            locks.append((self.rules.user_locked_until(counts.get(keys[0]), now), USER_RULE,
                          self.rules.free_failures))
        locks = [lock for lock in locks if lock[0] is not None]
        if not locks:
            return None, counts
        until, rule, amount = max(locks, key=lambda lock: lock[0])
        return Refusal(rule, amount, max(1, math.ceil((until - now).total_seconds()))), counts

    def failed(self, username: str | None, address: str | None, now: datetime) -> None:
        rules = self.rules
        throttle_counts.add_failure(self.db, self.keys(username, address), now,
                                    user_since=now - rules.forget_after, window_since=now - rules.address_window)
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            throttle_counts.purge(self.db, user_since=now - rules.forget_after,
                                  window_since=now - rules.address_window)

    def succeeded(self, username: str | None, counts: dict) -> None:
        """A successful sign-in forgets its own username's failures (never anyone else's)."""
        keys = self.keys(username, None)
        if len(keys) == 2 and keys[0] in counts:
            throttle_counts.forget(self.db, keys[0])


def install(app: Flask, db: Database) -> None:
    app.extensions["portfolio.sign_in_throttle"] = Throttle(db, rules_from(app.config))
    # Tests sign in many times a minute; they turn the throttle on explicitly to test it.
    app.config.setdefault("RATELIMIT_ENABLED", not app.config.get("TESTING", False))


def note_wrong_password() -> None:
    """For a view whose wrong-password answer is not a 401 (變更密碼's 400): count this attempt."""
    g.sign_in_wrong_password = True


def password_checked(username: Callable[[], str | None], *, door: str = "sign_in"):
    """Guard a view that checks a password on POST. `username` names the account tried (it runs
    first, and may answer 400 for a body it cannot read). A 401 answer, or note_wrong_password(),
    counts a failure; a 2xx or 3xx answer is a success."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.method != "POST" or not current_app.config.get("RATELIMIT_ENABLED"):
                return view(*args, **kwargs)
            from web.context import now

            throttle: Throttle = current_app.extensions["portfolio.sign_in_throttle"]
            name, address, at = username(), request.remote_addr, now()
            name = name if isinstance(name, str) else None
            refusal, counts = throttle.check(name, address, at)
            if refusal is not None:
                return too_many(refusal, throttle.rules, door)
            try:
                response = make_response(view(*args, **kwargs))
            except Exception as error:  # an error answer raised (the API's 401): judged, then raised on
                _settle(throttle, getattr(error, "status", None) or getattr(error, "code", None), name, address,
                        at, counts)
                raise
            _settle(throttle, response.status_code, name, address, at, counts)
            return response
        return wrapped
    return decorate


def _settle(throttle: Throttle, status, name, address, at, counts) -> None:
    if status == 401 or g.pop("sign_in_wrong_password", False):
        throttle.failed(name, address, at)
    elif isinstance(status, int) and status < 400:
        throttle.succeeded(name, counts)


def _wait_words(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分鐘"


def too_many(refusal: Refusal, rules: Rules, door: str):
    from web.errors import respond

    wait = _wait_words(refusal.wait)
    if refusal.rule == ADDRESS_RULE:
        minutes = int(rules.address_window.total_seconds() // 60)
        message = (f"從你的網路位址登入失敗的次數過多（上限：每 {minutes} 分鐘 {refusal.limit} 次），"
                   f"請於 {wait}後再試。")
    else:
        what = "目前的密碼輸入錯誤" if door == "password_change" else "這個帳號的登入失敗"
        longest = _wait_words(int(rules.max_lock.total_seconds()))
        message = (f"{what}次數過多：連續失敗 {refusal.limit} 次後，每再失敗一次須等待的時間加倍"
                   f"（最長 {longest}）。請於 {wait}後再試。")
    return respond(429, "rate_limited", message,
                   {"rule": refusal.rule, "limit": refusal.limit, "retry_after": refusal.wait},
                   headers={"Retry-After": str(refusal.wait)})
