/* What the hooked calls run: says it ran, with its pid and arguments, and exits 0. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  printf("target ran pid=%d args=", (int)getpid());
  for (int i = 0; i < argc; ++i) printf("%s%s", i == 0 ? "" : "|", argv[i]);
  printf("\n");
  return 0;
}
