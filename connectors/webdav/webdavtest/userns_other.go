//go:build !linux

package webdavtest

import "syscall"

// newUserNamespace: user namespaces are Linux's; elsewhere Apache's tests
// do not run as root.
func newUserNamespace() *syscall.SysProcAttr { return nil }
