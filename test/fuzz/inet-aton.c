/* Reference for the IP-literal fuzzer: glibc's own parsers, one input per
   line on stdin. "4 <text>": inet_aton -> "ok <dotted quad>" | "no".
   "6 <text>": inet_pton(AF_INET6) -> "ok <8 hex groups>" | "no". */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  static char line[512];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (line[0] == '4') {
      struct in_addr a;
      if (inet_aton(line + 2, &a)) printf("ok %s\n", inet_ntoa(a));
      else printf("no\n");
    } else {
      unsigned char b[16];
      if (inet_pton(AF_INET6, line + 2, b) == 1) {
        printf("ok");
        for (int i = 0; i < 16; i += 2) printf(" %x", (b[i] << 8) | b[i + 1]);
        printf("\n");
      } else printf("no\n");
    }
  }
  return 0;
}
