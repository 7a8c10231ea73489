/* A library whose constructor calls system($CTOR_COMMAND): a hook called from another
 * library's constructor, possibly before the interposer's own constructor ran. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void run_from_constructor(void) {
  const char* command = getenv("CTOR_COMMAND");
  if (command == NULL) return;
  const int rc = system(command);
  printf("ctor system=%d\n", rc);
  fflush(stdout);
}

int ctor_system_linked(void) { return 1; }
