/*
 * The exitless handshake of docs/exitless.md, as a Promela model for spin.
 *
 * A state map entry per 2 MiB frame, shared by the guest and the host:
 *
 *   USED        the guest owns the frame (some of it allocated); the host
 *               never touches it
 *   FREE        the frame is wholly free in the guest and not reclaimed:
 *               the host may claim it
 *   RECLAIMING  the host claimed it (CAS FREE -> RECLAIMING) and is
 *               discarding its backing
 *   RECLAIMED   the host is done (CAS RECLAIMING -> RECLAIMED): the frame is
 *               free and unbacked
 *
 * Transitions, and who makes them:
 *   guest  USED -> FREE              store: only the guest writes USED entries
 *   guest  FREE -> USED              CAS  (allocation from a free frame)
 *   guest  RECLAIMED -> USED         CAS  (allocation from a reclaimed frame)
 *   guest  sees RECLAIMING           waits until RECLAIMED, then CAS
 *   host   FREE -> RECLAIMING        CAS  (claim), then discard
 *   host   RECLAIMING -> RECLAIMED   CAS  after the discard returned
 *
 * Two guest CPUs (GUESTS) and one host scanner, over FRAMES frames. A guest
 * CPU that owns a frame writes a token into it and reads it back before it
 * frees it: a discard in between (data := 0) is data loss, caught by an
 * assertion; so is a discard of a frame some guest CPU owns. The host
 * asserts its final CAS finds RECLAIMING (nobody else may change it).
 *
 * Each guest CPU does ROUNDS allocate/free rounds and ends; the host ends
 * when the guests are done (valid end states checked).
 *
 * Broken variants, to show the model catches them (tests/model/exitless.sh):
 *   -DBROKEN=1  the host checks FREE and claims it in two steps (no CAS)
 *   -DBROKEN=2  the guest's allocation CAS also takes RECLAIMING frames
 *   -DBROKEN=3  the host publishes RECLAIMED before the discard is over
 *   -DBROKEN=4  the guest publishes FREE before it is done with the frame
 *               (a missing release ordering on the free path)
 */

#ifndef FRAMES
#define FRAMES 2
#endif
#ifndef GUESTS
#define GUESTS 2
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif
#ifndef BROKEN
#define BROKEN 0
#endif

mtype = { USED, FREE, RECLAIMING, RECLAIMED };

mtype state[FRAMES];
byte data[FRAMES];		/* the frame's contents: a token or 0 */
byte owner[FRAMES];		/* guest CPU + 1 that owns it, 0 none */
bool discarding[FRAMES];	/* the host's madvise is running */
byte guests_done;

/* CAS: if state[f] == expect, set it to new; ok says whether it did */
inline cas(f, expect, new, ok) {
	atomic {
		if
		:: state[f] == expect -> state[f] = new; ok = true
		:: else -> ok = false
		fi
	}
}

proctype guest(byte me)
{
	byte f, round = 0;
	bool ok;

	do
	:: round == ROUNDS -> break
	:: round < ROUNDS ->
		/* allocation: pick any frame, take it with a CAS */
		select (f : 0 .. FRAMES - 1);
again:
		cas(f, FREE, USED, ok);
		if
		:: !ok -> cas(f, RECLAIMED, USED, ok)
		:: else
		fi;
#if BROKEN == 2
		if
		:: !ok -> cas(f, RECLAIMING, USED, ok)
		:: else
		fi;
#endif
		if
		:: !ok && state[f] == RECLAIMING ->
			/* the host is discarding it: wait until it is done */
			(state[f] != RECLAIMING);
			goto again
		:: !ok && state[f] != RECLAIMING ->
			/* USED: another CPU has it; try again later */
			skip
		:: ok ->
			assert(owner[f] == 0);
			owner[f] = me + 1;
			assert(!discarding[f]);
			data[f] = me + 1;		/* use it */
#if BROKEN == 4
			state[f] = FREE;		/* published too early ... */
#endif
			assert(data[f] == me + 1);	/* nothing discarded it */
			/* free: the whole frame is free again */
			owner[f] = 0;
			data[f] = 0;
#if BROKEN != 4
			state[f] = FREE
#else
			skip
#endif
		fi;
		round++
	od;
	atomic { guests_done++ }
}

proctype host()
{
	byte f;
	bool ok;

end_scan:
	do
	:: guests_done == GUESTS -> break
	:: select (f : 0 .. FRAMES - 1)		/* the scan moves on */
	:: state[f] == FREE ->
#if BROKEN == 1
		/* check, then claim: a guest may take it in between */
		state[f] = RECLAIMING; ok = true;
#else
		cas(f, FREE, RECLAIMING, ok);
#endif
		if
		:: ok ->
			discarding[f] = true;
			assert(owner[f] == 0);	/* nobody owns what is discarded */
#if BROKEN == 3
			state[f] = RECLAIMED;	/* too early */
#endif
			data[f] = 0;		/* madvise(MADV_DONTNEED) */
			discarding[f] = false;
#if BROKEN == 3
			skip
#else
			cas(f, RECLAIMING, RECLAIMED, ok);
			assert(ok)		/* only the host leaves RECLAIMING */
#endif
		:: !ok -> skip			/* the guest took it first */
		fi
	od
}

init
{
	byte i;

	atomic {
		for (i : 0 .. FRAMES - 1) {
			state[i] = FREE
		}
		for (i : 0 .. GUESTS - 1) {
			run guest(i)
		}
		run host()
	}
}

/* Safety, also as a claim: a frame some guest CPU owns is never being
 * discarded. */
ltl no_discard_of_owned { [] !((owner[0] != 0 && discarding[0]) || (owner[FRAMES - 1] != 0 && discarding[FRAMES - 1])) }
/* Liveness (weak fairness): a claimed frame is always reclaimed, so a
 * guest waiting on RECLAIMING always goes on. */
ltl reclaim_completes { [] ((state[0] == RECLAIMING) -> <> (state[0] == RECLAIMED)) }
