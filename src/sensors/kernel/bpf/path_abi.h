/* Path limits shared by every BPF sensor that walks dentries (path_walk.h) and by the agent's
 * decoders of their records. */
#ifndef RINGSIDE_PATH_ABI_H
#define RINGSIDE_PATH_ABI_H

#define RS_PATH_MAX 4096      /* bytes of one path, NUL included (PATH_MAX) */
#define RS_PATH_COMPONENTS 64 /* dentries and mount crossings walked per path */

#endif /* RINGSIDE_PATH_ABI_H */
