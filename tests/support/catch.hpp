// SPDX-License-Identifier: MIT
#pragma once

// Catch2 v2 (one header) or v3 (split headers), whichever the build found.

#if defined(SPINDLE_CATCH2_V2)
#include <catch2/catch.hpp>
#else
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#endif
