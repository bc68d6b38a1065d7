package cli

import (
	"github.com/spf13/cobra"

	"github.com/keyport/keyport/backends/local"
)

func newRootKeyCmd(a *app) *cobra.Command {
	rk := &cobra.Command{
		Use:   "root-key",
		Short: "Make a root key for the embedded store",
		Long: `The embedded store (--store FILE) is encrypted under a root key: 32 random bytes
in standard base64 (or hex), from the environment variable ` + local.RootKeyEnv + `
or a file named by --root-key-file (readable by its owner only). Text, short
keys and keys of equal bytes are refused. Keep it safe: without
it the store's keys, and so every ciphertext under them, are lost.`,
		Example: `  export ` + local.RootKeyEnv + `=$(keyport root-key generate)`,
		Args:    cobra.NoArgs,
	}
	var out outFlags
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Print a fresh root key (32 random bytes, base64)",
		Example: `  export ` + local.RootKeyEnv + `=$(keyport root-key generate)
  keyport root-key generate -o ~/.config/keyport/root.key     # mode 0600; then --root-key-file`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"noConfig": "1"},
		RunE: a.run(func(*cobra.Command, []string) error {
			enc, err := local.GenerateRootKey()
			if err != nil {
				return err
			}
			if out.path == "" || out.path == "-" {
				return a.print(map[string]string{"RootKey": enc}, func(w *textWriter) { w.line("%s", enc) })
			}
			w, err := a.openOutput(&out, false)
			if err != nil {
				return err
			}
			defer w.Discard()
			if _, err := w.Write([]byte(enc + "\n")); err != nil {
				return err
			}
			return w.Commit()
		}),
	}
	out.register(gen, "the key")
	rk.AddCommand(gen)
	return rk
}
