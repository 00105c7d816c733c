"""Date night timing as numbers: a whole evening (8-minute prompts) runs in milliseconds on a fake clock."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from assistant.clock import FakeClock, SystemClock
from assistant.datenight import DateNight, Phase, Summary

INTERVAL = 480.0
"""Seconds between prompts: the default 8 minutes."""
T0 = 1000.0
"""An arbitrary monotonic start time; nothing may assume the clock starts at zero."""


def evening_by_event(night: DateNight, clock: FakeClock, until: float) -> list[float]:
    """Run the way the listen loop does: sleep exactly until the next event, then act on it.

    Returns the prompt times relative to the start; stops at `until` seconds or when a set duration ends.
    """
    start = clock.monotonic()
    prompts = []
    while clock.monotonic() - start < until:
        wait = night.seconds_until_event(clock.monotonic())
        assert wait is not None
        clock.advance(min(wait, until - (clock.monotonic() - start)))
        now = clock.monotonic()
        if night.finished(now):
            break
        if night.due(now):
            night.prompted(now)
            prompts.append(now - start)
    return prompts


@pytest.fixture
def night() -> DateNight:
    return DateNight(INTERVAL)


# -- states ---------------------------------------------------------------------------------------------


def test_new_date_night_is_idle(night: DateNight) -> None:
    assert night.phase is Phase.IDLE
    assert night.due(T0 + 10_000) is False
    assert night.seconds_until_event(T0) is None


def test_start_runs_and_first_prompt_is_one_interval_away(night: DateNight) -> None:
    night.start(T0)
    assert night.phase is Phase.RUNNING
    assert night.seconds_until_event(T0) == INTERVAL
    assert night.prompts == 0


@pytest.mark.parametrize(("after", "due"), [(0.0, False), (479.9, False), (480.0, True), (481.0, True), (5000, True)])
def test_first_prompt_due_after_one_interval(night: DateNight, after: float, due: bool) -> None:
    night.start(T0)
    assert night.due(T0 + after) is due


@pytest.mark.parametrize("interval", [0.0, -1.0, -480.0])
def test_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        DateNight(interval)


def test_phase_values_are_the_spoken_names() -> None:
    assert [phase.value for phase in Phase] == ["idle", "running", "paused"]


# -- a whole evening ---------------------------------------------------------------------------------------


def test_whole_evening_second_by_second() -> None:
    clock, night = FakeClock(), DateNight(INTERVAL)
    night.start(clock.monotonic())
    prompt_times = []
    for _ in range(3600):
        clock.advance(1.0)
        if night.due(clock.monotonic()):
            night.prompted(clock.monotonic())
            prompt_times.append(clock.monotonic())
    assert prompt_times == [480.0 * k for k in range(1, 8)]
    assert night.stop(clock.monotonic()) == Summary(minutes=60, prompts=7)


def test_whole_evening_jumping_from_event_to_event() -> None:
    clock, night = FakeClock(), DateNight(INTERVAL)
    clock.advance(T0)
    night.start(clock.monotonic())
    assert evening_by_event(night, clock, until=3600.0) == [480.0 * k for k in range(1, 8)]
    assert night.stop(clock.monotonic()) == Summary(minutes=60, prompts=7)


def test_whole_evening_runs_in_milliseconds() -> None:
    clock, night = FakeClock(), DateNight(INTERVAL)
    started = time.perf_counter()
    night.start(clock.monotonic())
    prompts = evening_by_event(night, clock, until=4 * 3600.0)
    assert len(prompts) == 30
    assert time.perf_counter() - started < 5.0  # generous: the point is that nothing sleeps


def test_next_asked_early_restarts_the_interval(night: DateNight) -> None:
    night.start(T0)
    night.prompted(T0 + 100)  # "next" after 100 s
    assert night.prompts == 1
    assert night.due(T0 + 579) is False
    assert night.due(T0 + 580) is True


def test_late_prompt_does_not_catch_up_in_a_burst(night: DateNight) -> None:
    night.start(T0)
    night.prompted(T0 + 2000)  # the loop was busy (a long conversation) well past several intervals
    assert night.due(T0 + 2001) is False
    assert night.seconds_until_event(T0 + 2000) == INTERVAL


def test_overdue_prompt_waits_zero_not_negative(night: DateNight) -> None:
    night.start(T0)
    assert night.seconds_until_event(T0 + 600) == 0.0


# -- pause and resume --------------------------------------------------------------------------------


def test_pause_stops_prompts(night: DateNight) -> None:
    night.start(T0)
    night.pause(T0 + 300)
    assert night.phase is Phase.PAUSED
    assert night.due(T0 + 10_000) is False
    assert night.seconds_until_event(T0 + 10_000) is None


def test_resume_keeps_the_remaining_time(night: DateNight) -> None:
    night.start(T0)
    night.pause(T0 + 300)  # 180 s were left
    night.resume(T0 + 1300)
    assert night.phase is Phase.RUNNING
    assert night.seconds_until_event(T0 + 1300) == 180.0
    assert night.due(T0 + 1479) is False
    assert night.due(T0 + 1480) is True


def test_pause_while_a_prompt_is_due_gives_it_right_after_resume(night: DateNight) -> None:
    night.start(T0)
    night.pause(T0 + 500)  # 20 s overdue, not yet spoken
    night.resume(T0 + 900)
    assert night.due(T0 + 900) is True
    assert night.seconds_until_event(T0 + 900) == 0.0


def test_pauses_do_not_count_as_active_time(night: DateNight) -> None:
    night.start(T0)
    night.pause(T0 + 100)
    assert night.active_seconds(T0 + 5000) == 100.0
    night.resume(T0 + 5000)
    night.pause(T0 + 5050)
    night.resume(T0 + 9000)
    assert night.active_seconds(T0 + 9010) == 160.0


def test_evening_with_a_dinner_break() -> None:
    clock, night = FakeClock(), DateNight(INTERVAL)
    night.start(clock.monotonic())
    first = evening_by_event(night, clock, until=1000.0)  # prompts at 480, 960; next due at 1440
    night.pause(clock.monotonic())
    clock.advance(1800.0)  # half an hour of dinner
    night.resume(clock.monotonic())
    second = evening_by_event(night, clock, until=1000.0)
    assert first == [480.0, 960.0]
    assert second == [440.0, 920.0]  # 440 s were left when dinner began
    assert night.stop(clock.monotonic()) == Summary(minutes=33, prompts=4)


# -- stopping -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "minutes"),
    [(0.0, 0), (29.0, 0), (31.0, 1), (60.0, 1), (119.0, 2), (2880.0, 48), (3600.0, 60), (3629.0, 60)],
)
def test_stop_summary_whole_minutes(night: DateNight, active: float, minutes: int) -> None:
    night.start(T0)
    assert night.stop(T0 + active).minutes == minutes


def test_stop_summary_counts_prompts_and_excludes_pauses(night: DateNight) -> None:
    night.start(T0)
    night.prompted(T0 + 480)
    night.pause(T0 + 600)
    night.resume(T0 + 4200)  # an hour away
    night.prompted(T0 + 4560)
    assert night.stop(T0 + 4800) == Summary(minutes=20, prompts=2)
    assert night.phase is Phase.IDLE


def test_stop_while_paused(night: DateNight) -> None:
    night.start(T0)
    night.pause(T0 + 1200)
    assert night.stop(T0 + 9999) == Summary(minutes=20, prompts=0)
    assert night.phase is Phase.IDLE


def test_nothing_is_due_after_stop(night: DateNight) -> None:
    night.start(T0)
    night.stop(T0 + 60)
    assert night.due(T0 + 10_000) is False
    assert night.seconds_until_event(T0 + 10_000) is None


def test_start_again_after_stop_begins_fresh(night: DateNight) -> None:
    night.start(T0)
    night.prompted(T0 + 480)
    night.stop(T0 + 900)
    night.start(T0 + 5000)
    assert night.prompts == 0
    assert night.active_seconds(T0 + 5060) == 60.0
    assert night.seconds_until_event(T0 + 5000) == INTERVAL


# -- a set duration ----------------------------------------------------------------------------------


def test_duration_finishes_on_time(night: DateNight) -> None:
    night.start(T0, duration=3600)
    assert night.finished(T0 + 3599) is False
    assert night.finished(T0 + 3600) is True


def test_duration_is_active_time_so_pauses_extend_it(night: DateNight) -> None:
    night.start(T0, duration=3600)
    night.pause(T0 + 1000)
    assert night.finished(T0 + 99_999) is False  # never finishes while paused
    night.resume(T0 + 1600)
    assert night.finished(T0 + 4199) is False
    assert night.finished(T0 + 4200) is True


def test_whole_evening_with_duration_finishes_itself() -> None:
    clock, night = FakeClock(), DateNight(INTERVAL)
    night.start(clock.monotonic(), duration=45 * 60)
    prompts = evening_by_event(night, clock, until=10 * 3600.0)
    assert prompts == [480.0 * k for k in range(1, 6)]  # 40 min; the 48-min prompt falls after the end
    assert clock.monotonic() == 45 * 60
    assert night.stop(clock.monotonic()) == Summary(minutes=45, prompts=5)


def test_finish_wins_when_the_end_and_a_prompt_coincide() -> None:
    clock, night = FakeClock(), DateNight(INTERVAL)
    night.start(clock.monotonic(), duration=2 * INTERVAL)
    prompts = evening_by_event(night, clock, until=10 * 3600.0)
    assert prompts == [INTERVAL]
    assert night.finished(clock.monotonic()) is True


def test_summary_after_a_late_stop_is_capped_at_the_duration(night: DateNight) -> None:
    night.start(T0, duration=30 * 60)
    assert night.stop(T0 + 50 * 60) == Summary(minutes=30, prompts=0)


@pytest.mark.parametrize(
    ("duration", "at", "expected"),
    [
        (None, 0.0, 480.0),
        (600.0, 0.0, 480.0),  # the prompt comes first
        (300.0, 0.0, 300.0),  # the end comes first
        (600.0, 550.0, 50.0),  # after the 480 s prompt the next is at 960, but the end at 600 comes first
    ],
)
def test_seconds_until_event(night: DateNight, duration: float | None, at: float, expected: float) -> None:
    night.start(T0, duration=duration)
    if at >= INTERVAL:
        night.prompted(T0 + INTERVAL)
    assert night.seconds_until_event(T0 + at) == expected


def test_seconds_until_event_is_none_when_paused_with_a_duration(night: DateNight) -> None:
    night.start(T0, duration=600)
    night.pause(T0 + 100)
    assert night.seconds_until_event(T0 + 200) is None


def test_float_interval() -> None:
    night = DateNight(0.25)
    night.start(0.0)
    assert night.due(0.2499) is False
    assert night.due(0.25) is True


# -- clocks -------------------------------------------------------------------------------------------


def test_fake_clock_starts_at_zero_and_moves_only_when_told() -> None:
    clock = FakeClock()
    assert clock.monotonic() == 0.0
    clock.advance(12.5)
    clock.advance(0.5)
    assert clock.monotonic() == 13.0


def test_fake_clock_now_is_aware_and_follows_advance() -> None:
    start = datetime(2026, 2, 14, 19, 30, tzinfo=timezone(timedelta(hours=1)))
    clock = FakeClock(start)
    clock.advance(90 * 60)
    assert clock.now() == start + timedelta(minutes=90)
    assert clock.now().utcoffset() == timedelta(hours=1)


def test_fake_clock_default_start_is_aware() -> None:
    assert FakeClock().now().tzinfo is not None


def test_system_clock_is_monotonic_and_aware() -> None:
    clock = SystemClock()
    first = clock.monotonic()
    assert clock.monotonic() >= first
    now = clock.now()
    assert now.tzinfo is not None
    assert abs(now.timestamp() - time.time()) < 5
