/* floor.c: the resident-memory floor for idle RSS. It links the same five
 * libraries as groupvaultd (the Makefile passes --no-as-needed), so the
 * loader maps them and runs their constructors (libmicrohttpd initialises
 * GnuTLS), then it sleeps and does nothing else. Its VmRSS is what any
 * program built on these Debian packages costs before its first line. */
#include <unistd.h>

int main(void)
{
	pause();
	return 0;
}
