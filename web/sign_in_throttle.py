"""The sign-in throttle 登入失敗限制: only failed password checks count, never successful ones.

Four counts, so that nobody can keep someone else's account locked cheaply (OWASP's device
cookies), while guessing and spraying are still stopped:
- Per username and address (the pair): the first `free_failures` - 1 (4) failures cost nothing;
  the `free_failures`th (5th) locks the pair for 1 s, and each further one for twice as long, at
  most `max_lock` (5 minutes). This stops a guesser at one address.
- Per username alone, from any address: the same ladder, but from the `username_failures`th
  (50th) failure: it stops a guesser spread over many addresses, and one source cannot reach it
  with a handful of wrong passwords per classmate.
- Per address: `address_failures` (100) failures in an `address_window` (10 minutes) window,
  whatever the usernames: a password-spraying client is stopped there, while a school behind one
  NAT address, whose honest users fail only by typos, stays far below it. Known school networks
  may be given a larger allowance (`SIGN_IN_TRUSTED_NETWORKS`). IPv6 addresses count per /64,
  which one client holds as easily as one address.
- Per device: a browser that signed in to an account on the page before holds a signed cookie
  naming it (DEVICE_COOKIE). An attempt on that account with that cookie is judged by none of the
  three counts above, only by its own (username + device), with the pair's ladder: a victim's own
  browser signs her in whoever is failing on her name or her address, and a stolen cookie is no
  free pass for guessing. The API's token endpoint takes no cookies: the three counts judge it.
Failures are forgotten `forget_after` (15 minutes) after the last one (the address's at the end of
its window), and a successful sign-in forgets its pair's or device's failures (not the username's
alone: those are the mark of an attack from elsewhere). The key is the typed name, lower-cased, so
an unknown username is throttled like a real one and the answer tells nothing about which exist
(names are stored only inside SHA-256 hashes: people type their password into the username field).

A locked attempt is refused with 429 and Retry-After BEFORE the password is checked, so a locked
account cannot be guessed, not even with the right password. The same throttle guards the sign-in
page, the API's token endpoint and the current-password check of 變更密碼. Stale rows are removed by
the periodic sweep (workflows/deadlines/run.py).

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
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Callable

from flask import Flask, current_app, g, make_response, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from persistence import throttle_counts
from persistence.db import Database
from persistence.throttle_counts import Count
from web.context import now
from web.errors import respond
from web.settings import whole_number

USER_KEY, PAIR_KEY, DEVICE_KEY, ADDRESS_KEY = "user:", "pair:", "dev:", throttle_counts.ADDRESS
USER_RULE, PAIR_RULE = "sign_in_failures_per_username", "sign_in_failures_per_username_and_address"
DEVICE_RULE, ADDRESS_RULE = "sign_in_failures_per_device", "sign_in_failures_per_address"

# The device cookie: sent only to the sign-in page, kept 180 days from the last sign-in there.
DEVICE_COOKIE, DEVICE_PATH, DEVICE_DAYS = "portfolio_device", "/login", 180
# A lab's shared computer: the accounts signed in there last, most recent first (about 20 bytes
# each in the cookie, far below a browser's 4 KB).
DEVICE_ACCOUNTS = 40
_DEVICE_SALT = "portfolio.sign-in-device"

# The sweep keeps a count for a day after its last failure (throttle_counts.KEPT_FOR): no window
# may be longer.
_LONGEST_MINUTES = int(throttle_counts.KEPT_FOR.total_seconds() // 60)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Rules:
    free_failures: int = 5
    username_failures: int = 50
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

    def backed_off_until(self, count: Count | None, threshold: int, now: datetime) -> datetime | None:
        """The `threshold`th failure locks for 1 s, each further one for twice as long (capped)."""
        if count is None or count.failures < threshold or count.last_failure_at <= now - self.forget_after:
            return None
        # The exponent is capped before the power: a count of millions must not make a number of
        # millions of digits.
        step = min(count.failures - threshold, 30)
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
    networks = config.get("SIGN_IN_TRUSTED_NETWORKS")
    if networks is None:
        networks = os.environ.get("PORTFOLIO_SIGN_IN_TRUSTED_NETWORKS", "")
    return Rules(free_failures=whole_number(config, "SIGN_IN_FREE_FAILURES", 5),
                 username_failures=whole_number(config, "SIGN_IN_USERNAME_FAILURES", 50),
                 max_lock=timedelta(seconds=whole_number(config, "SIGN_IN_MAX_LOCK_SECONDS", 300)),
                 forget_after=timedelta(minutes=whole_number(config, "SIGN_IN_FORGET_MINUTES", 15,
                                                             most=_LONGEST_MINUTES)),
                 address_failures=whole_number(config, "SIGN_IN_ADDRESS_FAILURES", 100),
                 address_window=timedelta(minutes=whole_number(config, "SIGN_IN_ADDRESS_MINUTES", 10,
                                                               most=_LONGEST_MINUTES)),
                 networks=networks if isinstance(networks, tuple) else parse_networks(networks))


def _ip(address: str | None):
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _name(username: str) -> str:
    # Lower-cased: more conservative than sign-in, which matches names exactly.
    return username.strip().lower()


def user_key(username: str) -> str:
    return USER_KEY + _hash(_name(username))


def pair_key(username: str, address: str | None) -> str:
    return PAIR_KEY + _hash(_name(username), address_key(address))


def device_key(username: str, device: str) -> str:
    return DEVICE_KEY + _hash(_name(username), device)


def address_key(address: str | None) -> str:
    ip = _ip(address)
    if ip is None:  # not an address (a forwarded header may say anything): counted as what it says
        return ADDRESS_KEY + "?" + _hash(address or "")
    if ip.version == 6:
        return ADDRESS_KEY + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return ADDRESS_KEY + str(ip)


# -- the device cookie -------------------------------------------------------------------------

def _account_mark(username: str) -> str:
    return _hash("device", _name(username))[:16]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DEVICE_SALT)


def _device_cookie() -> dict | None:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = _serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:  # forged, of another key, or older than DEVICE_DAYS
        return None
    if (not isinstance(value, dict) or not isinstance(value.get("d"), str)
            or not isinstance(value.get("a"), list)):
        return None
    return value


def device_for(username: str | None) -> str | None:
    """This browser's device id, if its cookie names this account; else None."""
    value = _device_cookie() if username and username.strip() else None
    if value is None or _account_mark(username) not in value["a"]:
        return None
    return value["d"]


def remember_device(response, username: str) -> None:
    """After a successful sign-in on the page: the browser's cookie names this account too (the
    most recent DEVICE_ACCOUNTS of a shared computer), signed anew for DEVICE_DAYS."""
    value = _device_cookie() or {"d": secrets.token_urlsafe(16), "a": []}
    mark = _account_mark(username)
    marks = [mark] + [other for other in value["a"] if other != mark]
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps({"d": value["d"], "a": marks[:DEVICE_ACCOUNTS]}),
                        max_age=DEVICE_DAYS * 86400, path=DEVICE_PATH, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE", True)))


# -- the throttle --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    rule: str
    limit: int
    wait: int  # whole seconds, at least 1


@dataclass(frozen=True)
class Attempt:
    """The keys one attempt is judged and counted by."""
    keys: tuple[str, ...]
    device: bool


class Throttle:
    def __init__(self, db: Database, rules: Rules):
        self.db, self.rules = db, rules

    def attempt(self, username: str | None, address: str | None, device: str | None = None) -> Attempt:
        if not (username and username.strip()):
            return Attempt((address_key(address),), False)
        if device:
            return Attempt((device_key(username, device),), True)
        return Attempt((pair_key(username, address), user_key(username), address_key(address)), False)

    def check(self, attempt: Attempt, address: str | None, now: datetime) -> tuple[Refusal | None, dict]:
        """Whether this attempt is refused, and the counts read (one SELECT)."""
        rules, counts = self.rules, throttle_counts.read(self.db, list(attempt.keys))
        locks = []
        for key in attempt.keys:
            count = counts.get(key)
            if key.startswith(ADDRESS_KEY):
                limit = rules.address_limit(address)
                locks.append((rules.address_locked_until(count, limit, now), ADDRESS_RULE, limit))
            elif key.startswith(USER_KEY):
                locks.append((rules.backed_off_until(count, rules.username_failures, now), USER_RULE,
                              rules.username_failures))
            else:
                locks.append((rules.backed_off_until(count, rules.free_failures, now),
                              DEVICE_RULE if attempt.device else PAIR_RULE, rules.free_failures))
        locks = [lock for lock in locks if lock[0] is not None]
        if not locks:
            return None, counts
        until, rule, amount = max(locks, key=lambda lock: lock[0])
        return Refusal(rule, amount, max(1, math.ceil((until - now).total_seconds()))), counts

    def failed(self, attempt: Attempt, now: datetime) -> None:
        rules = self.rules
        throttle_counts.add_failure(self.db, list(attempt.keys), now, user_since=now - rules.forget_after,
                                    window_since=now - rules.address_window)

    def succeeded(self, attempt: Attempt, counts: dict) -> None:
        """A success forgets its pair's or device's failures (never anyone else's; not the
        username's alone, which count attempts from elsewhere)."""
        mine = [key for key in attempt.keys if key.startswith((PAIR_KEY, DEVICE_KEY)) and key in counts]
        if mine:
            throttle_counts.forget(self.db, mine)


def install(app: Flask, db: Database) -> None:
    app.extensions["portfolio.sign_in_throttle"] = Throttle(db, rules_from(app.config))
    # Tests sign in many times a minute; they turn the throttle on explicitly to test it.
    app.config.setdefault("RATELIMIT_ENABLED", not app.config.get("TESTING", False))


def note_wrong_password() -> None:
    """For a view whose wrong-password answer is not a 401 (變更密碼's 400): count this attempt."""
    g.sign_in_wrong_password = True


def password_checked(username: Callable[[], str | None], *, door: str = "sign_in",
                     device: Callable[[str | None], str | None] | None = None):
    """Guard a view that checks a password on POST. `username` names the account tried (it runs
    first, and may answer 400 for a body it cannot read); `device` gives the browser's device id
    for that name (the sign-in page's cookie), if the door has one. A failure counts when the view
    answers 401 (a wrong password or unknown name at the sign-in page or the API's token) or calls
    note_wrong_password() — 變更密碼's wrong current password, which answers 400; a 2xx or 3xx
    answer is a success."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.method != "POST" or not current_app.config.get("RATELIMIT_ENABLED"):
                return view(*args, **kwargs)
            throttle: Throttle = current_app.extensions["portfolio.sign_in_throttle"]
            name, address, at = username(), request.remote_addr, now()
            name = name if isinstance(name, str) else None
            attempt = throttle.attempt(name, address, device(name) if device and name else None)
            refusal, counts = throttle.check(attempt, address, at)
            if refusal is not None:
                return too_many(refusal, throttle.rules, door)
            try:
                response = make_response(view(*args, **kwargs))
            except Exception as error:  # an error answer raised (the API's 401): judged, then raised on
                _settle(throttle, getattr(error, "status", None) or getattr(error, "code", None), attempt, at,
                        counts)
                raise
            _settle(throttle, response.status_code, attempt, at, counts)
            return response
        return wrapped
    return decorate


def _settle(throttle: Throttle, status, attempt: Attempt, at, counts) -> None:
    if status == 401 or g.pop("sign_in_wrong_password", False):
        throttle.failed(attempt, at)
    elif isinstance(status, int) and status < 400:
        throttle.succeeded(attempt, counts)


def _wait_words(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分鐘"


def too_many(refusal: Refusal, rules: Rules, door: str):
    wait = _wait_words(refusal.wait)
    if refusal.rule == ADDRESS_RULE:
        minutes = int(rules.address_window.total_seconds() // 60)
        message = (f"從你的網路位址登入失敗的次數過多（上限：每 {minutes} 分鐘 {refusal.limit} 次），"
                   f"請於 {wait}後再試。")
    else:
        what = "目前的密碼輸入錯誤" if door == "password_change" else "這個帳號的登入失敗"
        where = {PAIR_RULE: "從這個網路位址", USER_RULE: "從各處合計", DEVICE_RULE: "在這部裝置上"}[refusal.rule]
        longest = _wait_words(int(rules.max_lock.total_seconds()))
        message = (f"{what}次數過多：{where}第 {refusal.limit} 次失敗起，每次失敗後須等待 1、2、4… 秒"
                   f"（最長 {longest}）。請於 {wait}後再試。")
    return respond(429, "rate_limited", message,
                   {"rule": refusal.rule, "limit": refusal.limit, "retry_after": refusal.wait},
                   headers={"Retry-After": str(refusal.wait)})
