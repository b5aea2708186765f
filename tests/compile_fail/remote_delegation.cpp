// expect: an endpoint (a Chan) cannot be sent to another process
//
// Delegation (sending an endpoint) works between threads of one process;
// a session with another process refuses a protocol that would send one,
// where the listener (or the dialer) is made.
#include <spindle/session/zmq.hpp>

#include <cstdint>

using namespace spindle::session;

using Job = Recv<std::uint64_t, Eps>;
using Front = Recv<Chan<Job>, Eps>;  // receives an endpoint

int main() {
  remote::Listener<Front> listener("tcp://127.0.0.1:*");  // the mistake: Front crosses processes
}
