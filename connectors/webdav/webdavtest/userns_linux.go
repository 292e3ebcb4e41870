package webdavtest

import "syscall"

// newUserNamespace runs a child in a new user namespace, where it is not
// root and so does not switch to an unprivileged user.
func newUserNamespace() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
}
