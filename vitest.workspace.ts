/**
 * The test projects, one per package. Vitest 3.2 deprecates reading this file
 * on its own, so `vitest.config.ts` takes its `test.projects` from here.
 */
const pkg = (name: string) => ({
  extends: true as const,
  test: {
    name,
    root: `./packages/${name}`,
    include: ["test/**/*.test.ts"]
  }
})

export default [pkg("protocol"), pkg("runtime"), pkg("server"), pkg("client"), pkg("bench")]
