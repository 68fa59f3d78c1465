// A stand-in for a Ren'Py web game: a real Emscripten program whose page mounts IDBFS the way
// Ren'Py's web shell does (see shell.html). The tests call these functions to "save" and
// "load" the way Ren'Py's Python does: plain stdio on files under the IDBFS mount, followed
// by FS.syncfs(false) from JavaScript.
#include <emscripten.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// Writes `text` to `path` (parents must exist, as for Ren'Py's savedir). 0 on success.
EMSCRIPTEN_KEEPALIVE int game_save(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t n = strlen(text);
  int ok = fwrite(text, 1, n, f) == n;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

// Creates a directory (like Ren'Py creating its savedir). 0 on success or if it exists.
EMSCRIPTEN_KEEPALIVE int game_mkdir(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0) return 0;
  return mkdir(path, 0777);
}

// Size of a file, or -1 if it cannot be read.
EMSCRIPTEN_KEEPALIVE long game_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(void) {
  printf("game started\n");
  return 0;
}
