/* pic-qr-code.c: a widget showing text as a QR code, crisp at every size.
 *
 * Scanners need sharp module edges, and GTK 4.8 has no nearest-neighbour
 * texture node, so the texture is made for the size it is drawn at: a whole
 * number of device pixels per module, drawn 1:1 on the pixel grid. A new size
 * makes a new texture. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-qr-code.h"
#include "pic-qr-matrix.h"

#define MIN_MODULE_PX 2
#define NATURAL_MODULE_PX 4

struct _PicQrCode {
        GtkWidget parent_instance;

        char *text;
        PicQrMatrix *matrix;
        GdkTexture *texture;    /* for texture_scale device pixels per module */
        int texture_scale;
};

G_DEFINE_FINAL_TYPE(PicQrCode, pic_qr_code, GTK_TYPE_WIDGET)

enum {
        PROP_0,
        PROP_TEXT,
        N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void pic_qr_code_measure(GtkWidget *widget, GtkOrientation orientation, int for_size,
                                int *minimum, int *natural, int *minimum_baseline, int *natural_baseline) {
        PicQrCode *self = PIC_QR_CODE(widget);
        int full = self->matrix ? pic_qr_matrix_full_width(self->matrix) : 0;

        *minimum = full * MIN_MODULE_PX;
        /* Large enough to scan from across a desk, small enough for a phone-sized window. */
        *natural = full * NATURAL_MODULE_PX;
        if (orientation == GTK_ORIENTATION_VERTICAL && for_size >= 0 && full > 0) {
                /* Square, and a whole number of modules: no empty bands around the code. */
                int side = CLAMP(for_size / full, MIN_MODULE_PX, NATURAL_MODULE_PX) * full;
                *minimum = *natural = side;
        }
}

static GtkSizeRequestMode pic_qr_code_get_request_mode(GtkWidget *widget) {
        return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void pic_qr_code_snapshot(GtkWidget *widget, GtkSnapshot *snapshot) {
        PicQrCode *self = PIC_QR_CODE(widget);
        int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
        int factor = gtk_widget_get_scale_factor(widget);
        int full, scale, side_px;
        double side;

        if (!self->matrix)
                return;

        full = pic_qr_matrix_full_width(self->matrix);
        scale = MIN(width, height) * factor / full;
        if (scale < 1)
                return;

        if (!self->texture || self->texture_scale != scale) {
                g_autoptr(GBytes) pixels = pic_qr_matrix_render(self->matrix, scale, &side_px);

                g_clear_object(&self->texture);
                self->texture = gdk_memory_texture_new(side_px, side_px, GDK_MEMORY_R8G8B8,
                                                       pixels, (gsize) side_px * 3);
                self->texture_scale = scale;
        }

        side = (double) (full * scale) / factor;
        gtk_snapshot_save(snapshot);
        /* Whole device pixels, or the renderer would blend module edges. */
        gtk_snapshot_translate(snapshot, &GRAPHENE_POINT_INIT(
                                       (float) (((width * factor - full * scale) / 2) / (double) factor),
                                       (float) (((height * factor - full * scale) / 2) / (double) factor)));
        gtk_snapshot_append_texture(snapshot, self->texture,
                                    &GRAPHENE_RECT_INIT(0, 0, (float) side, (float) side));
        gtk_snapshot_restore(snapshot);
}

void pic_qr_code_set_text(PicQrCode *self, const char *text) {
        g_autoptr(GError) error = NULL;

        g_return_if_fail(PIC_IS_QR_CODE(self));

        if (g_strcmp0(self->text, text) == 0)
                return;

        g_free(self->text);
        self->text = g_strdup(text);
        g_clear_pointer(&self->matrix, pic_qr_matrix_free);
        g_clear_object(&self->texture);

        if (text && *text) {
                self->matrix = pic_qr_matrix_new(text, &error);
                if (!self->matrix)
                        g_warning("%s", error->message);
        }

        gtk_widget_queue_resize(GTK_WIDGET(self));
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_TEXT]);
}

const char *pic_qr_code_get_text(PicQrCode *self) {
        g_return_val_if_fail(PIC_IS_QR_CODE(self), NULL);
        return self->text;
}

static void pic_qr_code_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        PicQrCode *self = PIC_QR_CODE(object);

        switch (prop_id) {
        case PROP_TEXT:
                g_value_set_string(value, self->text);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void pic_qr_code_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) {
        PicQrCode *self = PIC_QR_CODE(object);

        switch (prop_id) {
        case PROP_TEXT:
                pic_qr_code_set_text(self, g_value_get_string(value));
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void pic_qr_code_finalize(GObject *object) {
        PicQrCode *self = PIC_QR_CODE(object);

        g_free(self->text);
        pic_qr_matrix_free(self->matrix);
        g_clear_object(&self->texture);
        G_OBJECT_CLASS(pic_qr_code_parent_class)->finalize(object);
}

static void pic_qr_code_class_init(PicQrCodeClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->get_property = pic_qr_code_get_property;
        object_class->set_property = pic_qr_code_set_property;
        object_class->finalize = pic_qr_code_finalize;

        widget_class->measure = pic_qr_code_measure;
        widget_class->get_request_mode = pic_qr_code_get_request_mode;
        widget_class->snapshot = pic_qr_code_snapshot;

        properties[PROP_TEXT] = g_param_spec_string("text", NULL, NULL, NULL,
                                                    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
        g_object_class_install_properties(object_class, N_PROPS, properties);

        gtk_widget_class_set_css_name(widget_class, "qrcode");
        gtk_widget_class_set_accessible_role(widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void pic_qr_code_init(PicQrCode *self) {
        gtk_accessible_update_property(GTK_ACCESSIBLE(self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       /* Translators: the accessible name of a QR code image. */
                                       _("QR code"), -1);
}

GtkWidget *pic_qr_code_new(void) {
        return g_object_new(PIC_TYPE_QR_CODE, NULL);
}
