// SPDX-License-Identifier: MIT
#pragma once

// The names every part of spindle::session refers to, declared once: the
// protocol tags, the environment and the endpoint. <spindle/session.hpp>
// defines them and documents them.

namespace spindle::session {

struct Eps;
template <class T, class P>
struct Send;
template <class T, class P>
struct Recv;
template <class... P>
struct Choose;
template <class... P>
struct Offer;
template <class P>
struct Rec;
struct Z;
template <class N>
struct S;
template <class N>
struct Var;
template <class Root, class... Bodies>
struct Env;
template <class P, class E>
class Chan;

}  // namespace spindle::session
