// expect: no codec for this message type
//
// A message type the codec does not carry, and no Codec<T> taught to it:
// the error says which type (in the note that names Codec<T>) and how to
// teach the codec.
#include <spindle/session/codec.hpp>

#include <string>

struct Reading {
  double value;
};

int main() {
  std::string frame;
  spindle::session::Writer out(frame);
  spindle::session::encode(out, Reading{1.5});  // the mistake: no Codec<Reading>
}
