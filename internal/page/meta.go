package page

// MetaID is the page that holds the database's allocation state.
const MetaID ID = 1

// MetaMagic identifies an initialised meta page.
const MetaMagic = 0x5354524154413031 // "STRATA01"

// Meta is the allocation state kept in the meta page.
type Meta struct {
	Magic       uint64
	NextPage    ID     // first page never allocated (the high-water mark)
	FreeHead    ID     // first page of the free list
	FreeCount   uint64 // pages on the free list
	CatalogRoot ID     // root of the catalog tree
}

// Meta reads the allocation state from a meta page.
func (p *Page) Meta() Meta {
	d := HeaderSize
	return Meta{
		Magic:       p.u64(d),
		NextPage:    ID(p.u64(d + 8)),
		FreeHead:    ID(p.u64(d + 16)),
		FreeCount:   p.u64(d + 24),
		CatalogRoot: ID(p.u64(d + 32)),
	}
}

// SetMeta writes the allocation state into a meta page.
func (p *Page) SetMeta(m Meta) {
	d := HeaderSize
	p.setU64(d, m.Magic)
	p.setU64(d+8, uint64(m.NextPage))
	p.setU64(d+16, uint64(m.FreeHead))
	p.setU64(d+24, m.FreeCount)
	p.setU64(d+32, uint64(m.CatalogRoot))
}

// MetaSize is the encoded size of Meta.
const MetaSize = 40
