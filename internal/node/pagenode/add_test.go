package pagenode

import "testing"

func TestNextPageStoreID(t *testing.T) {
	for _, c := range []struct {
		ids  []string
		want string
	}{
		{nil, "pagestore-1"},
		{[]string{"pagestore-1", "pagestore-2", "pagestore-3"}, "pagestore-4"},
		{[]string{"pagestore-1", "pagestore-7", "extra"}, "pagestore-8"},
		{[]string{"pagestore-x", "pagestore-"}, "pagestore-1"},
	} {
		addrOf := map[string]string{}
		for _, id := range c.ids {
			addrOf[id] = "127.0.0.1:1"
		}
		if got := nextPageStoreID(addrOf); got != c.want {
			t.Errorf("%v: %s, want %s", c.ids, got, c.want)
		}
	}
}
