// Every thread the agent starts carries a name (what `top -H`, `ps -L` and
// /proc/PID/task/TID/comm show), so an operator can tell where the agent's CPU goes. The thread
// that starts a thread names it, before it goes on: the name is there from the start.
#pragma once

#include <pthread.h>

#include <thread>

namespace ringside {

// At most 15 characters (the kernel's limit); by convention "rs-" and the part's name.
inline void name_thread(std::thread& t, const char* name) {
  pthread_setname_np(t.native_handle(), name);
}

}  // namespace ringside
