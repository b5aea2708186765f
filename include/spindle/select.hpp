// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// Select over channels and timers (spindle::mpsc::Select, select(arms...),
/// after, at, tick, never). The same as <spindle/mpsc.hpp>, which declares
/// them with the channels they wait on.

#include "spindle/mpsc.hpp"  // IWYU pragma: export
