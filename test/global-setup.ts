// Work that many test files share and that must happen once per run (building patched interpreters,
// say) is started here; see test/helpers for the pieces.
export default async function setup(): Promise<void> {}
