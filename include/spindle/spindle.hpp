// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// Everything spindle offers, in one include.

#include "spindle/mpmc.hpp"
#include "spindle/mpsc.hpp"
#include "spindle/result.hpp"
#include "spindle/session.hpp"
#include "spindle/sync.hpp"
#include "spindle/thread.hpp"
