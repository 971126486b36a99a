/* sys/un.h: AF_UNIX socket addresses. */
#ifndef XC_SYS_UN_H
#define XC_SYS_UN_H

#include <sys/socket.h>

struct sockaddr_un {
  sa_family_t sun_family;
  char sun_path[108];
};

#endif
