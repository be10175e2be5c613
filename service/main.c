/* main.c: pic-celld's entry point (placeholder until the bus service lands). */
#include <stdio.h>
#include "config.h"

int main(void) {
        printf("pic-celld %s\n", PACKAGE_VERSION);
        return 0;
}
