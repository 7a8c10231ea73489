/* Linked against libctor_system.so, whose constructor runs before main. */
#include <stdio.h>

int ctor_system_linked(void);

int main(void) {
  printf("main ran %d\n", ctor_system_linked());
  return 0;
}
