"""Units: information, money, compute and tokens are dimensions; conversions are exact."""

from __future__ import annotations

import pytest

from gpu_stack.errors import UnitError


def test_information_is_a_dimension(registry):
    units = registry.units
    assert units.dimensionality("byte") != units.dimensionality("dimensionless")
    assert units.convert(1, "byte", "bit") == 8
    assert units.convert(1, "GiB", "byte") == 2**30
    assert units.convert(1, "GB", "byte") == 1e9
    assert units.convert(1, "Gbit/s", "GB/s") == 0.125
    with pytest.raises(UnitError, match="cannot convert"):
        units.convert(1, "FLOP", "byte")          # a FLOP/byte mix-up is caught
    assert units.dimensionality("FLOP/byte") != units.dimensionality("dimensionless")


def test_money_compute_tokens(registry):
    units = registry.units
    assert units.convert(0.36, "USD/kWh", "USD/MWh") == pytest.approx(360, rel=1e-15)
    assert units.convert(1, "PFLOP", "FLOP") == 1e15
    with pytest.raises(UnitError):
        units.convert(1, "USD", "token")


def test_one_calendar(registry):
    assert registry.units.convert(1, "year", "day") == 365.25


def test_gilbert_trap(registry):
    # pint's Gb is the gilbert: it is not information
    assert registry.units.dimensionality("Gb") != registry.units.dimensionality("Gbit")


def test_offset_units_refused(registry):
    with pytest.raises(UnitError, match="offset unit"):
        registry.units.parse("degC")
    assert registry.units.convert(1, "delta_degC", "K") == 1
