/* qr-terminal.c: prints its argument as a QR code made of Unicode half
 * blocks, two modules per character cell, with the quiet zone the standard
 * asks for; the lab's demo shows an invite with it where there is no display. */
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>

#define QUIET_ZONE 4

static int module(const QRcode *qr, int x, int y) {
        if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
                return 0;
        return qr->data[y * qr->width + x] & 1;
}

int main(int argc, char *argv[]) {
        QRcode *qr;

        if (argc != 2) {
                fprintf(stderr, "usage: %s TEXT\n", argv[0]);
                return 2;
        }
        qr = QRcode_encodeString8bit(argv[1], 0, QR_ECLEVEL_M);
        if (!qr) {
                perror("Failed to encode the QR code");
                return EXIT_FAILURE;
        }
        /* Light modules are printed dark-on-light inverted: a terminal is usually dark. */
        for (int y = -QUIET_ZONE; y < qr->width + QUIET_ZONE; y += 2) {
                for (int x = -QUIET_ZONE; x < qr->width + QUIET_ZONE; x++) {
                        int top = module(qr, x, y), bottom = module(qr, x, y + 1);
                        if (!top && !bottom)
                                fputs("\u2588", stdout);
                        else if (!top)
                                fputs("\u2580", stdout);
                        else if (!bottom)
                                fputs("\u2584", stdout);
                        else
                                fputs(" ", stdout);
                }
                fputc('\n', stdout);
        }
        QRcode_free(qr);
        return EXIT_SUCCESS;
}
