"""The sign-in throttle's rules without a database: the back-off ladder and its cap, the address
window, the school networks' allowances, the keys."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from persistence.throttle_counts import Count
from web.sign_in_throttle import Rules, address_key, device_key, pair_key, parse_networks, rules_from, user_key

NOW = datetime(2026, 10, 5, 8, 0, tzinfo=timezone.utc)


def _count(failures, first=NOW, last=NOW):
    return Count(failures, first, last)


def test_the_back_off_starts_at_the_threshold_and_doubles_up_to_the_cap():
    rules = Rules()
    # The pair's (and a device's) ladder: the 5th failure locks for 1 s, as the docs say.
    assert rules.backed_off_until(_count(4), rules.free_failures, NOW) is None
    waits = [(rules.backed_off_until(_count(n), rules.free_failures, NOW) - NOW).total_seconds()
             for n in range(5, 16)]
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert rules.backed_off_until(_count(10**9), 5, NOW) == NOW + timedelta(minutes=5)  # no huge power
    # The username's alone: the same ladder from the 50th failure.
    assert rules.backed_off_until(_count(49), rules.username_failures, NOW) is None
    assert (rules.backed_off_until(_count(50), rules.username_failures, NOW) - NOW).total_seconds() == 1
    # Forgotten 15 minutes after the last failure.
    assert rules.backed_off_until(_count(20, last=NOW - timedelta(minutes=15)), 5, NOW) is None


def test_the_address_window_and_the_networks_allowances():
    rules = rules_from({"SIGN_IN_TRUSTED_NETWORKS": "203.0.113.0/24=1000, 203.0.113.128/25=2000"})
    assert rules.address_limit("198.51.100.1") == 100
    assert rules.address_limit("203.0.113.5") == 1000
    assert rules.address_limit("203.0.113.200") == 2000  # the longest prefix
    assert rules.address_limit("::ffff:203.0.113.5") == 1000  # an IPv4-mapped address is the IPv4 one
    assert rules.address_limit("not an address") == 100
    assert rules.address_locked_until(_count(99), 100, NOW) is None
    assert rules.address_locked_until(_count(100), 100, NOW) == NOW + timedelta(minutes=10)
    assert rules.address_locked_until(_count(500, first=NOW - timedelta(minutes=10)), 100, NOW) is None


@pytest.mark.parametrize("text", ["203.0.113.0/24", "203.0.113.0/24=", "nonsense=5", "10.0.0.0/8=0",
                                  "10.0.0.0/8=many"])
def test_a_wrong_network_setting_is_refused_at_start(text):
    with pytest.raises(ValueError, match="SIGN_IN_TRUSTED_NETWORKS"):
        parse_networks(text)


def test_keys_hide_the_name_and_fit_the_column():
    assert user_key("  Stu0.013301 ") == user_key("stu0.013301") and "stu0" not in user_key("stu0.013301")
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2::9") == "addr:2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.1") == "addr:192.0.2.1"
    # A pair or a device is the name (any case) with the address (the /64) or the device.
    assert pair_key("Stu0.013301", "2001:db8:1:2::1") == pair_key("stu0.013301", "2001:db8:1:2::9")
    assert pair_key("stu0.013301", "192.0.2.1") != pair_key("stu0.013301", "192.0.2.2")
    assert device_key("stu0.013301", "d1") != device_key("stu1.013301", "d1") != device_key("stu0.013301", "d2")
    odd = address_key("x\x00" * 1000)
    assert odd.startswith("addr:?") and len(odd) <= 200
    with pytest.raises(ValueError, match="SIGN_IN_ADDRESS_FAILURES"):
        rules_from({"SIGN_IN_ADDRESS_FAILURES": "lots"})
    # The sweep keeps a count a day: no window may be longer.
    with pytest.raises(ValueError, match="SIGN_IN_FORGET_MINUTES must be at most 1440"):
        rules_from({"SIGN_IN_FORGET_MINUTES": 1441})
