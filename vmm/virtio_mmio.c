/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "log.h"
#include "virtio_mmio.h"

static const char *const mmio_err_str[VMMIO_ERR__COUNT] = {
	[VMMIO_ERR_ACCESS_SIZE] = "register access is not 32 bits wide; ignored",
	[VMMIO_ERR_OFFSET] = "access to a register that does not exist; ignored",
	[VMMIO_ERR_LEGACY] = "legacy (version 1) register used on a version 2 device; ignored",
	[VMMIO_ERR_FEATURES] = "driver features refused (not offered, or VIRTIO_F_VERSION_1 missing)",
	[VMMIO_ERR_QUEUE_SEL] = "queue register written for a queue that does not exist; ignored",
	[VMMIO_ERR_QUEUE_LIVE] = "queue layout written while the queue is ready; ignored",
	[VMMIO_ERR_NOTIFY] = "notification for a queue that does not exist or is not ready; ignored",
};

static void log_mmio_once(struct virtio_mmio_dev *t, enum vmmio_err e, uint64_t detail)
{
	unsigned bit = 1u << e;

	atomic_fetch_add(&t->errors, 1);
	if (atomic_fetch_or(&t->logged_mmio, bit) & bit)
		return;
	vmm_log("virtio-mmio@%#llx: %s (0x%llx; further ones not logged)",
		(unsigned long long)t->base, mmio_err_str[e], (unsigned long long)detail);
}

static void raise_int(struct virtio_mmio_dev *t, unsigned isr_bit)
{
	atomic_fetch_or(&t->isr, isr_bit);
	atomic_fetch_add(&t->irqs, 1);
	if (t->raise_irq)
		t->raise_irq(t->irq_opaque);
}

/* Device hooks. */
static void hook_config_changed(void *opaque)
{
	struct virtio_mmio_dev *t = opaque;

	atomic_fetch_add(&t->generation, 1);
	if (atomic_load(&t->status) & VIRTIO_CONFIG_S_DRIVER_OK)
		raise_int(t, VIRTIO_MMIO_INT_CONFIG);
}

static void hook_needs_reset(void *opaque)
{
	struct virtio_mmio_dev *t = opaque;
	unsigned old = atomic_fetch_or(&t->status, VIRTIO_CONFIG_S_NEEDS_RESET);

	atomic_fetch_add(&t->errors, 1);
	/* Spec 2.1.2: a device that sets NEEDS_RESET after DRIVER_OK sends a
	 * configuration change notification. */
	if (!(old & VIRTIO_CONFIG_S_NEEDS_RESET) && (old & VIRTIO_CONFIG_S_DRIVER_OK))
		raise_int(t, VIRTIO_MMIO_INT_CONFIG);
}

static void process(struct virtio_mmio_dev *t, unsigned qi, bool from_driver);

static void hook_poke(void *opaque, unsigned q)
{
	process(opaque, q, false);
}

static uint64_t offered_features(struct virtio_mmio_dev *t)
{
	return t->ops->features(t->dev) | (1ULL << VIRTIO_F_VERSION_1) |
	       (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

static unsigned count_queues(struct virtio_mmio_dev *t, uint64_t features)
{
	unsigned n = t->ops->num_queues(t->dev, features);
	return n < VIRTIO_MMIO_MAX_QUEUES ? n : VIRTIO_MMIO_MAX_QUEUES;
}

struct virtio_mmio_dev *virtio_mmio_create(struct guest_mem *gm, const struct virtio_dev_ops *ops,
					   void *dev, uint64_t base)
{
	struct virtio_mmio_dev *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->gm = gm;
	t->ops = ops;
	t->dev = dev;
	t->base = base;
	t->hooks = (struct virtio_dev_hooks){
		.opaque = t,
		.config_changed = hook_config_changed,
		.needs_reset = hook_needs_reset,
		.poke = hook_poke,
	};
	t->offered = offered_features(t);
	t->nqueues = count_queues(t, t->offered);
	if (ops->bind)
		ops->bind(dev, &t->hooks);
	return t;
}

void virtio_mmio_destroy(struct virtio_mmio_dev *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		vring_dev_teardown(&t->q[i].vq);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void virtio_mmio_set_irq(struct virtio_mmio_dev *t, void (*raise_fn)(void *), void *opaque)
{
	t->raise_irq = raise_fn;
	t->irq_opaque = opaque;
}

void virtio_mmio_set_kick(struct virtio_mmio_dev *t, void (*kick)(void *, unsigned), void *opaque)
{
	t->kick = kick;
	t->kick_opaque = opaque;
}

/* Device reset (status 0 written): caller holds lock. */
static void reset_locked(struct virtio_mmio_dev *t)
{
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		vring_dev_teardown(&t->q[i].vq);
		memset(&t->q[i], 0, sizeof(t->q[i]));
	}
	t->driver_features = 0;
	t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = 0;
	/* The device first: one with a thread of its own stops it here, so
	 * a NEEDS_RESET it set meanwhile is cleared below, not left on the
	 * fresh device. */
	t->ops->reset(t->dev);
	t->offered = offered_features(t);
	t->nqueues = count_queues(t, t->offered);
	atomic_store(&t->isr, 0);
	atomic_store(&t->irq_queues, 0);
	atomic_store(&t->status, 0);
}

static struct vmmio_queue *selected(struct virtio_mmio_dev *t)
{
	/* queue_sel is guest-written: bound it before any use. */
	return t->queue_sel < t->nqueues ? &t->q[t->queue_sel] : NULL;
}

static void log_vring_error(struct virtio_mmio_dev *t, unsigned qi, enum vring_err e)
{
	unsigned bit = 1u << e;

	if (!(atomic_fetch_or(&t->logged_vring, bit) & bit))
		vmm_log("virtio-mmio@%#llx queue %u: %s; not acted on, device needs reset "
			"(further ones of this kind not logged)",
			(unsigned long long)t->base, qi, vring_err_str(e));
	hook_needs_reset(t);
}

static void queue_ready_locked(struct virtio_mmio_dev *t, struct vmmio_queue *q, unsigned qi)
{
	uint64_t f = t->driver_features;
	enum vring_err e;

	e = vring_dev_setup(&q->vq, t->gm, q->num > t->ops->queue_max ? 0 : q->num,
			    q->desc, q->avail, q->used,
			    f & (1ULL << VIRTIO_RING_F_EVENT_IDX),
			    f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	if (e != VRING_OK)
		log_vring_error(t, qi, e);
}

/* Returns true when DRIVER_OK was just set: buffers the driver queued
 * before that (Linux queues the stats buffer early) are handled now. */
static bool set_status_locked(struct virtio_mmio_dev *t, uint32_t val)
{
	uint32_t old = atomic_load(&t->status);

	if (val == 0) {
		reset_locked(t);
		return false;
	}
	if ((val & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		uint64_t f = t->driver_features;
		if ((f & ~t->offered) || !(f & (1ULL << VIRTIO_F_VERSION_1))) {
			/* Leave FEATURES_OK clear: the driver reads it back
			 * and gives up (spec 3.1.1). */
			log_mmio_once(t, VMMIO_ERR_FEATURES, f);
			val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		} else {
			t->nqueues = count_queues(t, f);
			t->ops->set_features(t->dev, f);
		}
	}
	/* The device's own bit survives driver writes until reset, even one
	 * a device thread sets right now. */
	uint32_t cur = old;
	while (!atomic_compare_exchange_weak(&t->status, &cur,
					     val | (cur & VIRTIO_CONFIG_S_NEEDS_RESET)))
		;
	if (t->ops->status)
		t->ops->status(t->dev, val);
	return (val & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK);
}

static uint32_t read_locked(struct virtio_mmio_dev *t, uint64_t off)
{
	struct vmmio_queue *q;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->dev_feat_sel < 2 ? (uint32_t)(t->offered >> (32 * t->dev_feat_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		q = selected(t);
		return q ? t->ops->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_NUM:
		q = selected(t);
		return q ? q->num : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		q = selected(t);
		return q && vring_dev_ready(&q->vq);
	case VIRTIO_MMIO_QUEUE_DESC_LOW: q = selected(t); return q ? (uint32_t)q->desc : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: q = selected(t); return q ? (uint32_t)(q->desc >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: q = selected(t); return q ? (uint32_t)q->avail : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: q = selected(t); return q ? (uint32_t)(q->avail >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW: q = selected(t); return q ? (uint32_t)q->used : 0;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: q = selected(t); return q ? (uint32_t)(q->used >> 32) : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return atomic_load(&t->isr);
	case VIRTIO_MMIO_STATUS: return atomic_load(&t->status);
	case VIRTIO_MMIO_CONFIG_GENERATION: return atomic_load(&t->generation);
	/* No shared memory regions: length all ones means "none" (4.2.2). */
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu;
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
	case VIRTIO_MMIO_DRIVER_FEATURES:
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
	case VIRTIO_MMIO_QUEUE_SEL:
	case VIRTIO_MMIO_QUEUE_NOTIFY:
	case VIRTIO_MMIO_INTERRUPT_ACK:
	case VIRTIO_MMIO_SHM_SEL:
		return 0;	/* write-only */
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
	case VIRTIO_MMIO_QUEUE_ALIGN:
	case VIRTIO_MMIO_QUEUE_PFN:
		log_mmio_once(t, VMMIO_ERR_LEGACY, off);
		return 0;
	default:
		log_mmio_once(t, VMMIO_ERR_OFFSET, off);
		return 0;
	}
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static void write_queue_reg(struct virtio_mmio_dev *t, uint64_t off, uint32_t val)
{
	struct vmmio_queue *q = selected(t);

	if (!q) {
		log_mmio_once(t, VMMIO_ERR_QUEUE_SEL, t->queue_sel);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		unsigned qi = (unsigned)(q - t->q);
		if (val == 0)
			vring_dev_teardown(&q->vq);
		else if (!vring_dev_ready(&q->vq))
			queue_ready_locked(t, q, qi);
		return;
	}
	if (vring_dev_ready(&q->vq)) {
		log_mmio_once(t, VMMIO_ERR_QUEUE_LIVE, off);
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM: q->num = val > 0xffff ? 0xffff : (uint16_t)val; break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: set_half(&q->desc, false, val); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_half(&q->desc, true, val); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: set_half(&q->avail, false, val); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: set_half(&q->avail, true, val); break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: set_half(&q->used, false, val); break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: set_half(&q->used, true, val); break;
	}
}

static void write_locked(struct virtio_mmio_dev *t, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->dev_feat_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->drv_feat_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Frozen once FEATURES_OK is set (spec 3.1.1). */
		if (!(atomic_load(&t->status) & VIRTIO_CONFIG_S_FEATURES_OK) && t->drv_feat_sel < 2)
			set_half(&t->driver_features, t->drv_feat_sel == 1, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = val; break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		write_queue_reg(t, off, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK: atomic_fetch_and(&t->isr, ~val); break;
	case VIRTIO_MMIO_SHM_SEL: break;
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
	case VIRTIO_MMIO_QUEUE_ALIGN:
	case VIRTIO_MMIO_QUEUE_PFN:
		log_mmio_once(t, VMMIO_ERR_LEGACY, off);
		break;
	default:
		log_mmio_once(t, VMMIO_ERR_OFFSET, off);
		break;
	}
}

static bool config_range(struct virtio_mmio_dev *t, uint64_t off, unsigned size, uint32_t *coff)
{
	if (off < VIRTIO_MMIO_CONFIG || size == 0 || size > 4)
		return false;
	off -= VIRTIO_MMIO_CONFIG;
	if (off >= t->ops->config_size || size > t->ops->config_size - off)
		return false;
	*coff = (uint32_t)off;
	return true;
}

uint32_t virtio_mmio_read(struct virtio_mmio_dev *t, uint64_t off, unsigned size)
{
	uint32_t v = 0, coff;

	if (off >= VIRTIO_MMIO_CONFIG) {
		/* Device-specific config: any naturally sized access. */
		if (config_range(t, off, size, &coff)) {
			uint8_t buf[4] = { 0 };
			pthread_mutex_lock(&t->lock);
			t->ops->config_read(t->dev, coff, buf, size);
			pthread_mutex_unlock(&t->lock);
			memcpy(&v, buf, size);
			v = le32toh(v);
		}
		return v;
	}
	if (size != 4) {
		log_mmio_once(t, VMMIO_ERR_ACCESS_SIZE, off);
		return 0;
	}
	/* Interrupt status is read on every interrupt: no lock for it. */
	if (off == VIRTIO_MMIO_INTERRUPT_STATUS)
		return atomic_load(&t->isr);
	pthread_mutex_lock(&t->lock);
	v = read_locked(t, off);
	pthread_mutex_unlock(&t->lock);
	return v;
}

void virtio_mmio_write(struct virtio_mmio_dev *t, uint64_t off, unsigned size, uint32_t val)
{
	uint32_t coff;

	if (off >= VIRTIO_MMIO_CONFIG) {
		if (config_range(t, off, size, &coff)) {
			uint8_t buf[4];
			uint32_t le = htole32(val);
			memcpy(buf, &le, 4);
			pthread_mutex_lock(&t->lock);
			t->ops->config_write(t->dev, coff, buf, size);
			pthread_mutex_unlock(&t->lock);
		}
		return;
	}
	if (size != 4) {
		log_mmio_once(t, VMMIO_ERR_ACCESS_SIZE, off);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		/* Without VIRTIO_F_NOTIFICATION_DATA the value is the queue
		 * index. Not under the lock: notify takes it. */
		if (t->kick)
			t->kick(t->kick_opaque, val);
		else
			virtio_mmio_notify(t, val);
		return;
	}
	if (off == VIRTIO_MMIO_INTERRUPT_ACK) {
		if (val & VIRTIO_MMIO_INT_VRING)
			atomic_store(&t->irq_queues, 0);
		atomic_fetch_and(&t->isr, ~val);
		return;
	}
	pthread_mutex_lock(&t->lock);
	if (off == VIRTIO_MMIO_STATUS) {
		bool started = set_status_locked(t, val);
		unsigned n = t->nqueues;
		pthread_mutex_unlock(&t->lock);
		for (unsigned qi = 0; started && qi < n; qi++)
			process(t, qi, false);
		return;
	}
	write_locked(t, off, val);
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_notify(struct virtio_mmio_dev *t, unsigned qi)
{
	atomic_fetch_add(&t->notifies, 1);
	process(t, qi, true);
}

static void process(struct virtio_mmio_dev *t, unsigned qi, bool from_driver)
{
	struct vmmio_queue *q;
	bool signal = false;

	pthread_mutex_lock(&t->lock);
	q = qi < t->nqueues ? &t->q[qi] : NULL;
	if (!q || !vring_dev_ready(&q->vq)) {
		pthread_mutex_unlock(&t->lock);
		if (from_driver)
			log_mmio_once(t, VMMIO_ERR_NOTIFY, qi);
		return;
	}
	/* A device that needs reset, or a driver not yet OK (DRIVER_OK after
	 * FEATURES_OK): leave the buffers where they are. */
	uint32_t st = atomic_load(&t->status);
	uint32_t want = VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK;
	if ((st & want) == want && !(st & VIRTIO_CONFIG_S_NEEDS_RESET) && !q->vq.err) {
		for (;;) {
			uint16_t before = q->vq.last_avail;
			t->ops->handle_queue(t->dev, qi, &q->vq);
			if (q->vq.err) {
				log_vring_error(t, qi, q->vq.err);
				break;
			}
			/* A device that took nothing (a queue it has no use
			 * for) would otherwise spin here for ever. */
			if (q->vq.last_avail == before)
				break;
			/* Anything that arrived while we worked is handled
			 * now rather than waiting for a kick that the
			 * driver, reading our avail_event, may skip. */
			if (!vring_dev_arm_notify(&q->vq))
				break;
		}
		signal = vring_dev_should_signal(&q->vq);
	}
	pthread_mutex_unlock(&t->lock);
	if (signal) {
		atomic_fetch_or(&t->irq_queues, 1u << qi);
		raise_int(t, VIRTIO_MMIO_INT_VRING);
	}
}
