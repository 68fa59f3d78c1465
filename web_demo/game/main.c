// The Emscripten half of the demo's stand-in game: a real Emscripten runtime with a real
// IDBFS, so that the page's saves go through the very FS and IndexedDB layout a Ren'Py web
// export uses. The game logic (saving, loading, screenshots) is JavaScript in device.js,
// which calls FS the way Ren'Py's Python does (write, rename, FS.syncfs(false)).
#include <stdio.h>

int main(void) {
  printf("stand-in game started\n");
  return 0;
}
