/* ringside-lab-x11-client, the X client of the lab's keyboard scenarios and of the keyboard
 * end-to-end tests: creates a window titled argv[2], sets _NET_WM_PID to its own pid (Xvfb has
 * no window manager to do it), takes the input focus and appends what it receives to the file
 * argv[1]: one line per key press, "<keysym name> <text as hex>". Writes "ready" to the file
 * once it holds the focus. Ends on SIGTERM. */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: ringside-lab-x11-client OUTPUT-FILE TITLE\n");
    return 2;
  }
  FILE* out = fopen(argv[1], "a");
  Display* dpy = XOpenDisplay(NULL);
  if (out == NULL || dpy == NULL) {
    fprintf(stderr, "ringside-lab-x11-client: cannot open %s or the display\n", argv[1]);
    return 1;
  }
  const Window root = DefaultRootWindow(dpy);
  const Window w = XCreateSimpleWindow(dpy, root, 10, 10, 200, 100, 1, 0, 0xffffff);
  XStoreName(dpy, w, argv[2]);
  const Atom net_wm_name = XInternAtom(dpy, "_NET_WM_NAME", False);
  const Atom utf8 = XInternAtom(dpy, "UTF8_STRING", False);
  XChangeProperty(dpy, w, net_wm_name, utf8, 8, PropModeReplace, (unsigned char*)argv[2],
                  (int)strlen(argv[2]));
  const long pid = getpid();
  XChangeProperty(dpy, w, XInternAtom(dpy, "_NET_WM_PID", False), XA_CARDINAL, 32, PropModeReplace,
                  (const unsigned char*)&pid, 1);
  XSelectInput(dpy, w, KeyPressMask | KeyReleaseMask | StructureNotifyMask | FocusChangeMask);
  XMapWindow(dpy, w);
  for (;;) {
    XEvent ev;
    XNextEvent(dpy, &ev);
    if (ev.type == MapNotify) {
      XSetInputFocus(dpy, w, RevertToParent, CurrentTime);
    } else if (ev.type == FocusIn) {
      fprintf(out, "ready\n");
      fflush(out);
    } else if (ev.type == KeyPress) {
      char text[32] = {0};
      KeySym sym = NoSymbol;
      const int n = XLookupString(&ev.xkey, text, sizeof text - 1, &sym, NULL);
      const char* name = XKeysymToString(sym);
      fprintf(out, "%s ", name != NULL ? name : "NoSymbol");
      for (int i = 0; i < n; ++i) fprintf(out, "%02x", (unsigned char)text[i]);
      fprintf(out, "\n");
      fflush(out);
    } else if (ev.type == MappingNotify) {
      XRefreshKeyboardMapping(&ev.xmapping);
    }
  }
}
