"""Pack descriptions state no result: results belong to `gpu-stack validate` and `gpu-stack calibrate`.

A description may explain what a pack holds and where its values come from, but a signed percentage
("model 29.2M, −5%") is an error claim the tool may no longer reproduce, and "calibrated" is a claim only
a pack written by `gpu-stack calibrate` (kind calibrated, with its [calibration] table) can make.
"""

from __future__ import annotations

import re

from gpu_stack.model.scenarios import describe_scenarios

# a signed percentage: an error claim such as "(-7%)", "+20%", "−5.4 %"
ERROR_CLAIM = re.compile(r"(?<![\w.])[+\-−–]\s?\d+(?:\.\d+)?\s?%")
# a pack's name ("hardware.h100_sxm_gemm_calibrated", "h100_sxm_gemm_calibrated.toml") names it, claims nothing
PACK_NAME = re.compile(r"[\w./]*_calibrated(?:\.toml)?")


def test_no_description_claims_an_error_or_a_calibration_it_does_not_carry():
    problems = []
    for pack in describe_scenarios():
        text = pack["description"]
        for claim in ERROR_CLAIM.findall(text):
            problems.append(f"{pack['id']}: states an error '{claim}' (results belong to validate)")
        if pack["kind"] != "calibrated" and re.search(r"calibrated", PACK_NAME.sub("", text), re.I):
            problems.append(f"{pack['id']}: kind {pack['kind']} but its description says 'calibrated'")
    assert not problems, "\n".join(problems)


def test_the_check_catches_the_claims_it_is_for():
    assert ERROR_CLAIM.findall("the model gives 29.2M GPU-hours (-5%)") == ["-5%"]
    assert ERROR_CLAIM.findall("outputs −17% against 1.08M") == ["−17%"]
    assert ERROR_CLAIM.findall("41% MFU, 35% of peak, 2:4 sparsity, 0.4-0.5%") == []
    assert PACK_NAME.sub("", "extends hardware.h100_sxm_gemm_calibrated") == "extends "
