// Placeholder until the tiny model generator lands (it will generate models/tiny-smolvlm here).
export default async function setup(): Promise<void> {}
