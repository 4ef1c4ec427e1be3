"""The config parser on arbitrary text: a ConfigError naming the place, never another error."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryd.config import OPTIONS, ConfigError
from ferryd.config.parser import parse_config_text

_NAMES = sorted(OPTIONS)
_LINE = st.one_of(
    st.text(max_size=80),
    st.builds(lambda name, value: f"{name}={value}", st.sampled_from(_NAMES), st.text(max_size=30)),
    st.builds(
        lambda name, value: f" {name} = {value}\r", st.sampled_from(_NAMES),
        st.sampled_from(["YES", "NO", "0", "077", "-1", "99999999999", "", "yes please", "0x10"]),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=20))
def test_any_text_parses_or_raises_a_located_config_error(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        parse_config_text(text, "fuzz.conf")
    except ConfigError as error:
        for problem in error.errors:
            assert problem.source == "fuzz.conf"
            assert problem.line is None or 1 <= problem.line <= max(1, text.count("\n") + 1)
            assert str(problem)
