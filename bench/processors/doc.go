// Package processors compares the canaryrole processor with the contrib processors a
// collector could use instead: resource, which upserts one constant attribute, and
// transform, with the OTTL statements that stamp the same role and canary name.
//
// The comparison lives in its own module so that the component modules never depend on
// the processors they are measured against.
package processors
