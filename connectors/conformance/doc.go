// Package conformance is the test suite every connector passes.
//
// A connector's test file calls Run with a function that returns a fresh,
// empty connector for each subtest:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) connectors.Connector {
//			c, err := local.New(t.TempDir(), local.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return c
//		})
//	}
//
// The suite checks the contract written in package connectors, nothing
// more: what a listing reports after a write, error kinds, atomic replace,
// conditional writes, confinement of hostile paths, and the optional
// interfaces a connector implements. Subtests that need a capability skip
// by the connector's Features or by the optional interfaces it implements,
// never by its name.
package conformance
