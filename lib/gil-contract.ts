// What the GIL patch emits through NVTX (patches/src/ceval_gil_nvtx.h): the one place the rest of
// gil-nvtx takes these names from. The report finds GIL ranges by them, the merge and the collector
// (native/collector/nvtx_collector.c) recognise the GIL domain by them. The header cannot import
// this file, so test/gil/contract.test.ts reads the header and the collector and checks that they
// say the same.

/** The NVTX domain the patch creates. */
export const GIL_DOMAIN = 'CPython GIL';
/** Registered message of a wait: from take_gil's entry until `gil->locked` becomes 1. */
export const WAITING_MESSAGE = 'Waiting for GIL';
/** Registered message of a hold: from then until drop_gil sets it to 0. */
export const HOLDING_MESSAGE = 'Holding GIL';
/** Mark on a waiter whose switch-interval wait timed out and that asked the holder to drop. */
export const DROP_REQUEST_MESSAGE = 'GIL drop request';

/**
 * Where, in Python, a long hold began and ended and a long wait began: ASCII marks in the GIL domain,
 * `GIL <kind> at <function> (<file>:<line>)`.
 */
export const LOCATION_KINDS = ['wait', 'taken', 'released'] as const;
export type LocationKind = (typeof LOCATION_KINDS)[number];
/** A location mark's message: kind, function, file, line. */
export const LOCATION_TEXT = new RegExp(`^GIL (${LOCATION_KINDS.join('|')}) at (.*) \\((.*):(-?\\d+)\\)$`, 's');
/** SQL LIKE pattern that every location mark matches and no other GIL message does. */
export const LOCATION_TEXT_LIKE = 'GIL % at %';
