package route

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql/expression/function"
)

// Config is what every Session of a proxy shares, read-only: the default consistency level
// (the proxy's flag) and the names of the built-in functions, which are safe on an RO.
type Config struct {
	Default  Consistency
	builtins map[string]bool
}

// NewConfig returns a Config with the default level def. The built-in functions are
// go-mysql-server's, the functions the compute nodes run; any other function a query calls
// is taken for a stored function, which may write, and sends the query to the RW.
func NewConfig(def Consistency) *Config {
	c := &Config{Default: def, builtins: make(map[string]bool, len(function.BuiltIns))}
	for _, f := range function.BuiltIns {
		c.builtins[strings.ToLower(f.FunctionName())] = true
	}
	return c
}

func (c *Config) builtin(name string) bool {
	return c.builtins[name]
}
